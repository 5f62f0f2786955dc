"""Overhead of the metrics on the recommendations endpoint: two gunicorn servers on the demo
database, one with metrics on (django-prometheus + the product's metrics, multiprocess mode as in
production), one with `RECSITE_METRICS=0`, driven in alternating rounds so both see the same
machine load. Prints p50/p99 and requests/s per side and their ratios, then the in-process cost of
one request's product-metric calls (noise-free, a floor for the end-to-end figure). Usage:

    .venv/bin/python bench/metrics_overhead.py [--rounds 6] [--seconds 5] [--concurrency 1 4]

Needs the demo database (`manage.py load_demo && embed && build_neighbors`).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.api_latency import drive, free_port, request_plan, setup_django, start_gunicorn  # noqa: E402
from bench.common import RESULTS, percentile, print_table, write_results  # noqa: E402


def calls_cost(*, multiprocess: bool, n: int = 20_000) -> float:
    """µs for the product-metric calls one home-feed request makes (6 stage timers, 3 candidate
    counts), in a fresh process: with files (multiprocess mode, as under gunicorn) or in memory."""
    code = f"""
import os, sys, tempfile, time
if {multiprocess!r}:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp()
sys.path.insert(0, {str(ROOT)!r})
from recsite.metrics import candidates_observe, stage_timer
started = time.perf_counter()
for _ in range({n}):
    for stage in ("recall.itemcf", "recall.semantic", "recall.popularity", "fuse", "rank", "filter"):
        with stage_timer(stage):
            pass
    for route in ("itemcf", "semantic", "popularity"):
        candidates_observe(route=route, count=100)
print((time.perf_counter() - started) / {n} * 1e6)
"""
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    output = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True).stdout
    return float(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()

    from recsite.database import database_url

    url = database_url()
    setup_django(url)
    from accounts.services import api_key_create

    _, api_key = api_key_create(name="bench-metrics")
    paths = request_plan(5000)["recommendations"]
    ports = {"on": free_port(), "off": free_port()}
    with tempfile.TemporaryDirectory() as on_dir, tempfile.TemporaryDirectory() as off_dir:
        dirs = {"on": on_dir, "off": off_dir}
        servers = {
            side: start_gunicorn(
                url,
                port,
                args.workers,
                log=RESULTS / f"metrics-overhead-{side}.log",
                extra_env={"RECSITE_METRICS": "1" if side == "on" else "0", "PROMETHEUS_MULTIPROC_DIR": dirs[side]},
            )
            for side, port in ports.items()
        }
        rows = []
        try:
            for port in ports.values():
                drive(port, api_key, paths[:300], 5.0, max(args.concurrency))  # warm-up: snapshots, caches
            for level in args.concurrency:
                latencies: dict[str, list[float]] = {"on": [], "off": []}
                counts = {"on": 0, "off": 0}
                elapsed = {"on": 0.0, "off": 0.0}
                for round_ in range(args.rounds):
                    # Alternate which side goes first, so neither always follows the other.
                    order = ("on", "off") if round_ % 2 == 0 else ("off", "on")
                    for side in order:
                        started = time.perf_counter()
                        result = drive(ports[side], api_key, paths, args.seconds, level, keep_latencies=True)
                        elapsed[side] += time.perf_counter() - started
                        latencies[side] += result["latencies"]
                        counts[side] += result["errors"]
                for side in ("on", "off"):
                    values = sorted(latencies[side])
                    rows.append(
                        {
                            "metrics": side,
                            "concurrency": level,
                            "requests": len(values),
                            "errors": counts[side],
                            "p50_ms": percentile(values, 50),
                            "p99_ms": percentile(values, 99),
                            "rps": len(values) / elapsed[side],
                        }
                    )
                on, off = rows[-2], rows[-1]
                rows.append(
                    {
                        "metrics": "on/off",
                        "concurrency": level,
                        "requests": on["requests"] - off["requests"],
                        "errors": on["errors"] - off["errors"],
                        "p50_ms": on["p50_ms"] / off["p50_ms"],
                        "p99_ms": on["p99_ms"] / off["p99_ms"],
                        "rps": on["rps"] / off["rps"],
                    }
                )
                print_table(rows[-3:])
        finally:
            for server in servers.values():
                server.terminate()
                server.wait(timeout=30)
    print()
    print_table(rows)
    calls = [
        {"mode": mode, "us_per_request": calls_cost(multiprocess=mode == "multiprocess")}
        for mode in ("memory", "multiprocess")
    ]
    print()
    print_table(calls)
    meta = {
        "rounds": args.rounds,
        "seconds": args.seconds,
        "gunicorn_workers": args.workers,
        "shared_machine": True,
        "metric_calls": calls,
    }
    print("wrote", write_results("metrics_overhead", rows, meta))


if __name__ == "__main__":
    main()
