"""The catalog's REST API: products (list, detail, batch upsert) and behaviour events."""
