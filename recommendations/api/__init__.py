"""The recommendation API: home feed, similar items, semantic search."""
