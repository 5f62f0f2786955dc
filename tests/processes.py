"""Helpers for tests that run real processes (workers, commands) against the test database."""

from __future__ import annotations

from urllib.parse import quote


def database_url_for(settings_dict: dict) -> str:
    """A DATABASE_URL for the database these settings point at (a Unix socket directory or a host)."""
    user = quote(settings_dict.get("USER") or "", safe="")
    password = quote(settings_dict.get("PASSWORD") or "", safe="")
    name = quote(settings_dict["NAME"], safe="")
    # dj-database-url keeps a socket directory given as `?host=` in OPTIONS, not in HOST.
    host = settings_dict.get("HOST") or settings_dict.get("OPTIONS", {}).get("host") or ""
    port = str(settings_dict.get("PORT") or "")
    if host.startswith("/"):
        query = f"host={quote(host, safe='')}" + (f"&port={port}" if port else "")
        return f"postgresql://{user}:{password}@/{name}?{query}"
    return f"postgresql://{user}:{password}@{host}{':' + port if port else ''}/{name}"
