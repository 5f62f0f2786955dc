"""Helpers for tests that run real processes (workers, commands) against the test database."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
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


@contextmanager
def project_app_broker(url: str) -> Iterator[None]:
    """The project's Celery app sends to `url` inside the block. Celery keeps a connection pool and
    a producer pool, each bound to the broker of its first use: a test that sent earlier left them
    on another Redis database, and a later test's task never reached its worker. Both are dropped on
    entry and on exit, with kombu's process-wide pools (keyed by broker address: a pool closed but
    kept there answers the next test "Acquire on closed pool"), as Celery does after a fork."""
    from kombu import pools

    from recsite.celery import app

    def drop_pools() -> None:
        pools.reset()
        app._pool = None
        app.amqp._producer_pool = None

    previous = app.conf.broker_url
    drop_pools()
    app.conf.broker_url = url
    try:
        yield
    finally:
        drop_pools()
        app.conf.broker_url = previous


@contextmanager
def celery_worker(
    *,
    queue: str,
    redis_url: str,
    log: Path,
    extra_env: dict[str, str | None] | None = None,
    pool: str = "solo",
    concurrency: int = 1,
) -> Iterator:
    """A real `celery worker` process on `queue`, against the test database; stopped on exit.

    `extra_env` adds variables to the worker's environment (None removes one).
    """
    from django.conf import settings
    from django.db import connection

    env = {
        **os.environ,
        "DATABASE_URL": database_url_for(connection.settings_dict),
        "REDIS_URL": redis_url,
        "CELERY_RESULT_BACKEND": redis_url,
        "EMBEDDING_DEVICE": "cpu",
    }
    for name, value in (extra_env or {}).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    with log.open("ab") as log_file:
        worker = subprocess.Popen(
            [str(Path(sys.executable).with_name("celery")), "-A", "recsite", "worker", "-Q", queue, f"--pool={pool}"]
            + [f"--concurrency={concurrency}"]
            + [f"--hostname=test-{uuid.uuid4().hex}@%h", "--without-gossip", "--without-mingle", "-l", "INFO"],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        try:
            yield worker
        finally:
            if worker.poll() is None:
                worker.terminate()
                try:
                    worker.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    worker.kill()
                    worker.wait()


@contextmanager
def gunicorn_server(*, env: dict[str, str], port: int, log: Path, timeout_s: float = 90) -> Iterator:
    """The project's gunicorn (deploy/gunicorn.conf.py) on `port` with `env`, answering /healthz
    with every worker warm before the block runs; stopped on exit."""
    import time

    import pytest
    from django.conf import settings

    from recommendations.warm_up import gunicorn_ready

    workers = int(env.get("GUNICORN_WORKERS", "1"))
    with log.open("wb") as log_file:
        server = subprocess.Popen(
            [str(Path(sys.executable).with_name("gunicorn")), "recsite.wsgi", "-c", "deploy/gunicorn.conf.py"],
            cwd=settings.BASE_DIR,
            env={**env, "GUNICORN_BIND": f"127.0.0.1:{port}"},
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.time() + timeout_s
            while True:
                if server.poll() is not None:
                    pytest.fail(f"gunicorn exited: {log.read_text(errors='replace')}")
                if time.time() > deadline:
                    pytest.fail(f"gunicorn did not answer: {log.read_text(errors='replace')}")
                # Every worker, not just the first: a test may need requests spread over them.
                if gunicorn_ready(port=port, log=log, workers=workers):
                    break
                time.sleep(0.3)
            yield server
        finally:
            server.terminate()
            server.wait(timeout=30)
