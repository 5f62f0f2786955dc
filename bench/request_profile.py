"""Where a request's time goes: each storefront endpoint served in this process (Django's test
client, the whole API stack without HTTP and gunicorn), one request at a time, with every SQL
statement timed (a connection execute wrapper) and the pipeline's stage timers read.

Prints, per endpoint: the request's p50 / p99, the SQL time (summed over the statements, those
run side by side on `recsite.fanout`'s threads included) and statement count per request, each
stage's mean, and the statements that cost the most (their first words, mean ms and count per
request). Against `bench/api_latency.py`'s database of a size (`recsite_bench_<size>`, prepared by
it) or `DATABASE_URL`. Usage:

    .venv/bin/python bench/request_profile.py --size 1000000 [--requests 300] [--endpoints recommendations search]
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.api_latency import request_plan, setup_django, storefront_plan  # noqa: E402
from bench.common import percentile, print_table, write_results  # noqa: E402

WARM_UP = 20
SHAPE_WORDS = re.compile(r"\s+")


def statement_shape(sql: str) -> str:
    """A statement's first 90 characters, whitespace folded: what groups its executions."""
    return SHAPE_WORDS.sub(" ", sql).strip()[:90]


class StatementClock:
    """A connection execute wrapper that sums each statement shape's time and count, on every
    connection of every thread (`install`)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.count: dict[str, int] = defaultdict(int)
        self.lock = threading.Lock()

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            shape = statement_shape(sql)
            with self.lock:
                self.seconds[shape] += time.perf_counter() - started
                self.count[shape] += 1

    def install(self) -> None:
        """Wrap this thread's connections now and every connection any thread opens later."""
        from django.db import connections
        from django.db.backends.signals import connection_created

        for alias in connections:
            connections[alias].execute_wrappers.append(self)
        connection_created.connect(self._wrap, weak=False)

    def _wrap(self, sender, connection, **kwargs) -> None:
        if self not in connection.execute_wrappers:
            connection.execute_wrappers.append(self)

    def reset(self) -> None:
        self.seconds.clear()
        self.count.clear()


def stage_sums() -> dict[str, float]:
    """Each pipeline stage's total observed seconds so far (the stage timers' histogram sums)."""
    from recsite.metrics import STAGE_LATENCY

    sums = {}
    for metric in STAGE_LATENCY.collect():
        for sample in metric.samples:
            if sample.name.endswith("_sum"):
                sums[sample.labels["stage"]] = sample.value
    return sums


def profile_endpoint(*, client, paths: list[str], headers: dict[str, str], clock: StatementClock) -> dict:
    for path in paths[:WARM_UP]:
        client.get(path, **headers)
    latencies, sql_seconds, statements = [], [], []
    stages_before = stage_sums()
    totals: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    errors = 0
    for path in paths:
        clock.reset()
        started = time.perf_counter()
        response = client.get(path, **headers)
        latencies.append((time.perf_counter() - started) * 1000)
        errors += response.status_code >= 300
        sql_seconds.append(sum(clock.seconds.values()) * 1000)
        statements.append(sum(clock.count.values()))
        for shape, seconds in clock.seconds.items():
            totals[shape] += seconds
            counts[shape] += clock.count[shape]
    n = len(paths)
    stages = {stage: (total - stages_before.get(stage, 0.0)) * 1000 / n for stage, total in stage_sums().items()}
    latencies.sort()
    sql_seconds.sort()
    top = sorted(totals, key=totals.get, reverse=True)[:8]
    return {
        "requests": n,
        "errors": errors,
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "mean_ms": sum(latencies) / n,
        "sql_p50_ms": percentile(sql_seconds, 50),
        "sql_mean_ms": sum(sql_seconds) / n,
        "statements_per_request": sum(statements) / n,
        "stages_mean_ms": {stage: round(ms, 2) for stage, ms in stages.items() if ms > 0},
        "statements": [
            {"shape": shape, "mean_ms": totals[shape] * 1000 / counts[shape], "per_request": counts[shape] / n}
            for shape in top
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, help="profile bench/api_latency.py's database of this size")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--endpoints", nargs="+", help="only these endpoints (default: every one)")
    args = parser.parse_args()

    if args.size:
        from recsite.database import embedded_database_url

        setup_django(embedded_database_url(database=f"recsite_bench_{args.size}"))
    else:
        setup_django(os.environ["DATABASE_URL"])
    from django.test import Client

    from accounts.services import api_key_create

    _, api_key = api_key_create(name="bench-profile")
    headers = {"HTTP_AUTHORIZATION": f"Api-Key {api_key}"}
    plan = request_plan(args.requests + WARM_UP)
    plan.update(storefront_plan(args.requests + WARM_UP))
    plan.pop("next page")  # needs page 1's cursor from a served answer: api_latency measures it
    client = Client()
    clock = StatementClock()
    clock.install()
    load_start = os.getloadavg()
    rows, details = [], {}
    for endpoint, paths in plan.items():
        if args.endpoints and endpoint not in args.endpoints:
            continue
        result = profile_endpoint(client=client, paths=paths[: args.requests + WARM_UP], headers=headers, clock=clock)
        details[endpoint] = result
        rows.append(
            {
                "endpoint": endpoint,
                "p50_ms": result["p50_ms"],
                "p99_ms": result["p99_ms"],
                "sql_p50_ms": result["sql_p50_ms"],
                "statements": round(result["statements_per_request"], 1),
                "errors": result["errors"],
            }
        )
        print_table(rows[-1:])
        print("  stages (mean ms):", result["stages_mean_ms"])
        for statement in result["statements"]:
            print(f"  {statement['mean_ms']:7.2f} ms × {statement['per_request']:.2f}  {statement['shape']}")
    meta = {"size": args.size, "loadavg_start": load_start, "loadavg_end": os.getloadavg(), "details": details}
    print("wrote", write_results("request_profile", rows, meta))


if __name__ == "__main__":
    main()
