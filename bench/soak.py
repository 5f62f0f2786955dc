"""Load soak: a steady, open-loop mix of storefront traffic against gunicorn with a Celery worker
running, for minutes; reports the rate held, p50/p99 per window, errors, and the memory of the
web and worker processes at the start and the end.

After a minute of warm-up at the same rate (every worker loads its models), requests are
sent on a fixed schedule (open loop: a slow answer does not slow the sender, so
queueing shows up as latency): home feed 45%, similar items 20%, search 15%, event batches 18%,
product upserts 2% (each asks the worker to embed). Runs against `recsite_soak`, a copy of the
demo database made on first use (`make demo` or `load_demo`/`embed`/`build_neighbors` first), on
its own Redis database. Queries over 100 ms (web and worker) are counted from the slow-query
log (bench/results/soak-slow-queries.log). Usage:

    .venv/bin/python bench/soak.py [--minutes 10] [--rate 20] [--window 60]
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import queue
import random
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.api_latency import free_port, request_plan, setup_django, start_gunicorn  # noqa: E402
from bench.common import RESULTS, percentile, print_table, write_results  # noqa: E402
from bench.slow_queries import print_slow_queries, slow_query_env, slow_query_summary  # noqa: E402

SOAK_DB = "recsite_soak"
SOAK_REDIS = "redis://127.0.0.1:6379/12"
MIX = [("recommendations", 0.45), ("similar", 0.20), ("search", 0.15), ("events", 0.18), ("products", 0.02)]
SENDERS = 16
WARM_UP_S = 60.0


def demo_copy(name: str) -> str:
    """The URL of database `name`, copied from the demo database the first time."""
    import psycopg

    from recsite.database import EMBEDDED_DB_NAME, embedded_database_url

    admin_url = embedded_database_url(database="postgres")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            print(f"copying {EMBEDDED_DB_NAME} to {name}", flush=True)
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{EMBEDDED_DB_NAME}"')
    return embedded_database_url(database=name)


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """Resident memory of a process and all its descendants, in MB: all of it (VmRSS), or the
    anonymous part (RssAnon: heaps, not pages of mapped files such as model weights)."""
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += next(int(line.split()[1]) for line in status.splitlines() if line.startswith(f"{field}:"))
            for task in Path(f"/proc/{current}/task").iterdir():
                stack += [int(child) for child in (task / "children").read_text().split()]
        except (OSError, StopIteration):
            continue
    return total / 1024


def memory_sample(minute: float, *, web: int, worker: int) -> dict:
    """Resident and anonymous memory (MB) of the web server's and the worker's process trees."""
    return {
        "minute": minute,
        "web_mb": rss_mb(web),
        "web_anon_mb": rss_mb(web, "RssAnon"),
        "worker_mb": rss_mb(worker),
        "worker_anon_mb": rss_mb(worker, "RssAnon"),
    }


def start_worker(database_url: str, extra_env: dict[str, str]) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": SOAK_REDIS, "CELERY_RESULT_BACKEND": SOAK_REDIS}
    env.update(extra_env)
    return subprocess.Popen(
        [str(ROOT / ".venv/bin/celery"), "-A", "recsite", "worker", "-Q", "default,gpu", "--concurrency", "1"]
        + ["--without-gossip", "--without-mingle", "-l", "WARNING"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


class Traffic:
    """The requests of the mix, drawn at random (seeded) from real ids."""

    def __init__(
        self,
        plan: dict[str, list[str]],
        customers: list[str],
        products: list[str],
        seed: int = 11,
        mix: list[tuple[str, float]] = MIX,
    ):
        self.plan, self.customers, self.products = plan, customers, products
        self.rng = random.Random(seed)
        self.kinds = [kind for kind, _ in mix]
        self.weights = [weight for _, weight in mix]

    def next(self) -> tuple[str, str, str, bytes | None]:
        kind = self.rng.choices(self.kinds, self.weights)[0]
        if kind in self.plan:
            return kind, "GET", self.rng.choice(self.plan[kind]), None
        now = dt.datetime.now(dt.UTC).isoformat()
        if kind == "events":
            customer = self.rng.choice(self.customers)
            body = [
                {
                    "event_id": f"soak-{uuid.uuid4().hex}",
                    "customer": customer,
                    "product": self.rng.choice(self.products),
                    "type": self.rng.choice(["view", "click", "add_to_cart"]),
                    "timestamp": now,
                }
                for _ in range(self.rng.randint(1, 5))
            ]
            return kind, "POST", "/api/v1/events/", json.dumps(body).encode()
        body = [{"id": f"SOAK-{uuid.uuid4().hex[:12]}", "title": f"soak test lantern {self.rng.randrange(10**6)}"}]
        return kind, "POST", "/api/v1/products/", json.dumps(body).encode()


def traffic_setup(database_url: str, *, key_name: str, mix: list[tuple[str, float]] = MIX) -> tuple[str, Traffic]:
    """Point Django at the bench database, migrate it, make an API key, and draw the traffic from
    its real customers and products (not those earlier soaks created)."""
    setup_django(database_url)
    from django.core.management import call_command

    from accounts.services import api_key_create
    from catalog.models import Customer, Product

    call_command("migrate", verbosity=0)
    _, api_key = api_key_create(name=key_name)
    customers = list(Customer.objects.values_list("external_id", flat=True)[:2000])
    products = list(Product.objects.exclude(external_id__startswith="SOAK-").values_list("external_id", flat=True))
    return api_key, Traffic(request_plan(5000), customers, products, mix=mix)


def run(*, minutes: float, rate: float, window_s: float) -> dict:
    database_url = demo_copy(SOAK_DB)
    api_key, traffic = traffic_setup(database_url, key_name="soak")
    port = free_port()
    os.environ["REDIS_URL"] = SOAK_REDIS
    server_log = RESULTS / "soak-gunicorn.log"
    slow_log = RESULTS / "soak-slow-queries.log"
    slow_env = slow_query_env(slow_log)
    server = start_gunicorn(database_url, port, os.cpu_count() or 2, log=server_log, extra_env=slow_env)
    worker = start_worker(database_url, slow_env)
    results: queue.Queue = queue.Queue()
    jobs: queue.Queue = queue.Queue(maxsize=10_000)
    headers = {"Authorization": f"Api-Key {api_key}", "Content-Type": "application/json"}

    def send(conn: http.client.HTTPConnection, method: str, path: str, body: bytes | None) -> int:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status

    def sender() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while (job := jobs.get()) is not None:
            scheduled, kind, method, path, body = job
            try:
                try:
                    status = send(conn, method, path, body)
                except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                    # The server closed an idle keep-alive connection; as any HTTP client does,
                    # send again on a new one (safe: every write here is idempotent by its id).
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                    status = send(conn, method, path, body)
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                status = 0
            # Latency from the scheduled send time: waiting for a free sender counts too.
            results.put((scheduled, kind, status, (time.perf_counter() - scheduled) * 1000))
        conn.close()

    # Before any request (each worker has loaded its models at start), then after the warm-up traffic.
    before_warm_up = memory_sample(-WARM_UP_S / 60, web=server.pid, worker=worker.pid)
    memory: list[dict] = []
    try:
        senders = [threading.Thread(target=sender, daemon=True) for _ in range(SENDERS)]
        for thread in senders:
            thread.start()
        # Warm-up at the same rate (every worker process loads its models), not measured.
        schedule(traffic=traffic, jobs=jobs, rate=rate, seconds=WARM_UP_S)
        time.sleep(2)
        while not results.empty():
            results.get()
        slow_log.write_text("")  # the measured minutes only (the processes append)
        memory.append(memory_sample(0.0, web=server.pid, worker=worker.pid))
        started = time.perf_counter()
        duration = minutes * 60
        n = 0
        for w in range(int(duration // window_s)):
            n += schedule(traffic=traffic, jobs=jobs, rate=rate, seconds=window_s, start=started + w * window_s)
            memory.append(memory_sample(round((w + 1) * window_s / 60, 1), web=server.pid, worker=worker.pid))
        for _ in senders:
            jobs.put(None)
        for thread in senders:
            thread.join(timeout=60)
    finally:
        server.terminate()
        worker.terminate()
        server.wait(timeout=30)
        worker.wait(timeout=30)
    samples = []
    while not results.empty():
        samples.append(results.get())
    report = summarise(
        samples=samples,
        started=started,
        window_s=window_s,
        duration=duration,
        sent=n,
        memory=memory,
        before_warm_up=before_warm_up,
    )
    return {**report, "slow_queries": slow_query_summary(slow_log)}


def schedule(*, traffic: Traffic, jobs: queue.Queue, rate: float, seconds: float, start: float | None = None) -> int:
    """Queue requests at `rate` per second for `seconds` from `start` (open loop); returns how many."""
    start = start if start is not None else time.perf_counter()
    n = 0
    while (due := start + n / rate) < start + seconds:
        now = time.perf_counter()
        if due > now:
            time.sleep(due - now)
        kind, method, path, body = traffic.next()
        jobs.put((due, kind, method, path, body))
        n += 1
    return n


def summarise(
    *, samples: list, started: float, window_s: float, duration: float, sent: int, memory: list, before_warm_up: dict
) -> dict:
    windows = []
    for w in range(int(duration // window_s)):
        lo, hi = started + w * window_s, started + (w + 1) * window_s
        inside = [s for s in samples if lo <= s[0] < hi]
        latencies = sorted(s[3] for s in inside)
        windows.append(
            {
                "minute": round((w + 1) * window_s / 60, 1),
                "requests": len(inside),
                "rate": round(len(inside) / window_s, 2),
                "errors": sum(1 for s in inside if s[2] == 0 or s[2] >= 400),
                "p50_ms": round(percentile(latencies, 50), 1),
                "p99_ms": round(percentile(latencies, 99), 1),
                **{key: round(value) for key, value in memory[w + 1].items() if key != "minute"},
            }
        )
    latencies = sorted(s[3] for s in samples)
    by_kind = {}
    for kind, _ in MIX:
        kind_latencies = sorted(s[3] for s in samples if s[1] == kind)
        by_kind[kind] = {
            "requests": len(kind_latencies),
            "p50_ms": round(percentile(kind_latencies, 50), 1),
            "p99_ms": round(percentile(kind_latencies, 99), 1),
            "errors": sum(1 for s in samples if s[1] == kind and (s[2] == 0 or s[2] >= 400)),
        }
    statuses: dict[str, int] = {}
    for s in samples:
        statuses[str(s[2])] = statuses.get(str(s[2]), 0) + 1
    return {
        "windows": windows,
        "by_kind": by_kind,
        "summary": {
            "sent": sent,
            "answered": len(samples),
            "rate_held": round(len(samples) / duration, 2),
            "errors": sum(1 for s in samples if s[2] == 0 or s[2] >= 400),
            "statuses": statuses,
            "p50_ms": round(percentile(latencies, 50), 1),
            "p99_ms": round(percentile(latencies, 99), 1),
            "memory_before_warm_up": before_warm_up,
            "memory_start": memory[0],
            "memory_end": memory[-1],
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=20.0, help="requests per second, all kinds together")
    parser.add_argument("--window", type=float, default=60.0, help="seconds per reported window")
    args = parser.parse_args()
    report = run(minutes=args.minutes, rate=args.rate, window_s=args.window)
    print_table(report["windows"])
    print()
    print_table([{"kind": kind, **row} for kind, row in report["by_kind"].items()])
    print()
    print(json.dumps(report["summary"], indent=1))
    print()
    print_slow_queries(report["slow_queries"])
    meta = {
        "minutes": args.minutes,
        "rate": args.rate,
        "summary": report["summary"],
        "by_kind": report["by_kind"],
        "slow_queries": report["slow_queries"],
    }
    print("wrote", write_results("soak", report["windows"], meta))


if __name__ == "__main__":
    main()
