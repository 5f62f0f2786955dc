"""Merchandising rules: a pipeline stage after ranking (see `stage` for the fixed order)."""
