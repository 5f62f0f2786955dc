"""Batch jobs at scale: wall time and peak memory of `build_neighbors`, `train_ranker`, `embed` and
`drift` (reference and check), each run as its real management command in its own process (`/usr/bin/time -v`: the
process's maximum resident set), on a catalog of 1M products with 20M events.

The database is a copy (`<source>_batch`) of `bench/api_latency.py`'s 1M-product database (`recsite_bench_1000000`,
prepared with `--sizes 1000000 --prepare-only`: every product embedded) with generated events added
by SQL: `--customers` shoppers (500,000 by default) with 40 events each over a year, each shopper
drawn to a "taste" of 100 neighbouring products for 80% of their events and to Zipf-popular
products for the rest; 70% views, 15% carts, 15% purchases. Generated, because no public set of
that size ships with recsite; what it measures is the jobs' memory bounds and time, not quality.

`embed` cannot embed a million products on two cores within a run (about 100 products/s): it runs
on `--embed-products` products whose text was changed (the real model, the real command), and its
per-product time is multiplied out to 1M in the table, marked as an extrapolation. The index build
at 1M is measured by api_latency's preparation.

    .venv/bin/python bench/batch_scale.py [--events 20000000] [--jobs build_neighbors train_ranker embed drift]
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import print_table, write_results  # noqa: E402

SOURCE_DB = "recsite_bench_1000000"
EVENTS_PER_CUSTOMER = 40
TASTE_WIDTH = 100
JOBS = {
    "build_neighbors": ["build_neighbors"],
    "train_ranker": ["train_ranker"],
    "embed": ["embed"],
    # The first half of the generated year as the reference, the second half checked against it.
    "drift": ["drift", "reference", "--start", "2025-01-01", "--end", "2025-07-01"],
    "drift_check": ["drift", "check", "--start", "2025-07-01", "--end", "2026-01-01"],
}
# Generated events: ids above every real one, times within 2025, which the months' partitions hold.
GENERATE_SQL = """
INSERT INTO catalog_event (event_id, customer_id, product_id, type, timestamp, received_at)
SELECT 'gen-' || g.i, c.id, p.id, g.type, g.at, g.at
FROM (
  SELECT i,
         i / {per} AS shopper,
         CASE WHEN random() < 0.8
              THEN ((hashint8(i / {per}) % {n_products} + {n_products}) % {n_products}
                    + floor(random() * {width})::bigint) % {n_products}
              ELSE floor({n_products} * power(random(), 3))::bigint END AS item,
         CASE WHEN r < 0.70 THEN 'view' WHEN r < 0.85 THEN 'add_to_cart' ELSE 'purchase' END AS type,
         timestamptz '2025-01-01' + (random() * 364) * interval '1 day' AS at
  FROM (SELECT i, random() AS r FROM generate_series({start}, {stop} - 1) AS i) s
) g
JOIN bench_customers c ON c.n = g.shopper
JOIN bench_products p ON p.n = g.item
"""


def database_url(name: str) -> str:
    from recsite.database import embedded_database_url

    return embedded_database_url(database=name)


def copy_database(source: str, database: str) -> None:
    """A copy of the `source` database (nobody may be connected to it while it is copied)."""
    import psycopg

    admin = database_url("postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone():
            return
        started = time.perf_counter()
        conn.execute(f'CREATE DATABASE "{database}" TEMPLATE "{source}"')
        print(f"copied {source} in {time.perf_counter() - started:.0f} s", flush=True)


def events_generate(*, database: str, events: int, chunk: int = 2_000_000) -> None:
    """Customers and events up to `events` generated events (a second run adds only what is missing)."""
    import psycopg

    n_customers = events // EVENTS_PER_CUSTOMER
    with psycopg.connect(database_url(database), autocommit=True) as conn:
        have = conn.execute("SELECT count(*) FROM catalog_event WHERE event_id LIKE 'gen-%%'").fetchone()[0]
        if have >= events:
            return
        conn.execute(
            "INSERT INTO catalog_customer (external_id, attributes, created_at)"
            " SELECT 'gen-' || n, '{}'::jsonb, now() FROM generate_series(0, %s - 1) n"
            " ON CONFLICT (external_id) DO NOTHING",
            [n_customers],
        )
        conn.execute(
            "CREATE TABLE IF NOT EXISTS bench_customers AS SELECT (substr(external_id, 5))::bigint AS n, id"
            " FROM catalog_customer WHERE external_id LIKE 'gen-%%'"
        )
        conn.execute("CREATE UNIQUE INDEX IF NOT EXISTS bench_customers_n ON bench_customers (n)")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS bench_products AS SELECT row_number() OVER (ORDER BY id) - 1 AS n, id"
            " FROM catalog_product"
        )
        conn.execute("CREATE UNIQUE INDEX IF NOT EXISTS bench_products_n ON bench_products (n)")
        n_products = conn.execute("SELECT count(*) FROM bench_products").fetchone()[0]
        partitions_2025(database)
        for start in range(have, events, chunk):
            stop = min(events, start + chunk)
            started = time.perf_counter()
            conn.execute(
                GENERATE_SQL.format(
                    per=EVENTS_PER_CUSTOMER, n_products=n_products, width=TASTE_WIDTH, start=start, stop=stop
                )
            )
            print(f"events {stop:,} of {events:,} ({time.perf_counter() - started:.0f} s)", flush=True)
        conn.execute("ANALYZE catalog_event")


def partitions_2025(database: str) -> None:
    """The 2025 months' event partitions, made by the product's own partition code."""
    code = (
        "import datetime as dt; from catalog.partitions import event_partitions_ensure;"
        "event_partitions_ensure(moments=[dt.datetime(2025, m, 15, tzinfo=dt.UTC) for m in range(1, 13)])"
    )
    subprocess.run(
        [str(ROOT / ".venv/bin/python"), "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url(database)},
        check=True,
    )


def stale_texts(database: str, n: int) -> None:
    """Change the text of `n` generated products so that `embed` has them to do."""
    import psycopg

    with psycopg.connect(database_url(database), autocommit=True) as conn:
        conn.execute(
            # The stored hash no longer matches: embed re-embeds them (and stores the right hash).
            "UPDATE catalog_product SET title = title || ' (batch)', text_hash = 'changed' WHERE id IN"
            " (SELECT id FROM catalog_product WHERE external_id LIKE 'GEN-%%' AND title NOT LIKE '%%(batch)'"
            " ORDER BY id LIMIT %s)",
            [n],
        )


def run_job(database: str, name: str, args: list[str], timeout_s: float) -> dict:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(database),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2"),
    }
    command = ["/usr/bin/time", "-v", str(ROOT / ".venv/bin/python"), "manage.py", *args]
    started = time.perf_counter()
    # Its own process group: at the limit the job itself is stopped, not only `time` above it (a
    # stopped `time` left the job running beside the next one).
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout_s)
        done = subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, _ = process.communicate()
        # Stopped, not failed: the row says how far it got.
        print(f"--- {name}: stopped after {timeout_s:.0f} s\n{out[-2000:]}", flush=True)
        return {
            "job": name,
            "exit": "timeout",
            "wall_s": timeout_s,
            "peak_rss_mb": None,
            "output": out.splitlines()[-6:],
        }
    wall = time.perf_counter() - started
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    tail = [line for line in done.stdout.splitlines() if line.strip()][-6:]
    print(f"--- {name}: exit {done.returncode}, {wall:.0f} s\n" + "\n".join(tail), flush=True)
    if done.returncode:
        print(done.stderr[-3000:], flush=True)
    return {
        "job": name,
        "exit": done.returncode,
        "wall_s": round(wall, 1),
        "peak_rss_mb": round(int(peak.group(1)) / 1024) if peak else None,
        "output": tail,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000_000)
    parser.add_argument("--source", default=SOURCE_DB, help="the prepared database copied (default: the 1M one)")
    parser.add_argument("--jobs", nargs="+", default=list(JOBS), choices=list(JOBS))
    parser.add_argument("--embed-products", type=int, default=5_000)
    parser.add_argument("--timeout", type=float, default=2400.0, help="seconds a job may run before it is stopped")
    args = parser.parse_args()
    load_start = os.getloadavg()
    database = f"{args.source}_batch"
    copy_database(args.source, database)
    started = time.perf_counter()
    events_generate(database=database, events=args.events)
    generate_s = time.perf_counter() - started
    rows = []
    for name in args.jobs:
        if name == "embed":
            stale_texts(database, args.embed_products)
        row = run_job(database, name, JOBS[name], args.timeout)
        rate = re.search(r"\(([\d.]+) items/s\)", "\n".join(row["output"])) if name == "embed" else None
        if rate and float(rate.group(1)) > 0:
            # The command's own embedding rate (model load excluded), multiplied out: an extrapolation.
            row["extrapolated_1m_s"] = round(1_000_000 / float(rate.group(1)))
        rows.append(row)
    print_table([{k: v for k, v in row.items() if k != "output"} for row in rows])
    meta = {
        "source": args.source,
        "events": args.events,
        "customers": args.events // EVENTS_PER_CUSTOMER,
        "generate_s": generate_s,
        "embed_products": args.embed_products,
        "loadavg_start": load_start,
        "loadavg_end": os.getloadavg(),
    }
    print("wrote", write_results("batch_scale", rows, meta))


if __name__ == "__main__":
    main()
