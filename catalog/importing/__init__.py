"""Catalog import: read rows (JSON Lines / CSV), validate them, upsert products and customers,
ingest events in bulk. Every service returns an `ImportReport`; bad rows never stop good ones."""
