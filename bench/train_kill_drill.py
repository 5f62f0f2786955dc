"""Fault drill: SIGKILL during `manage.py train_ranker`. No partial model version may be left (a
row whose artifact is missing or does not load), and the next run must succeed.

A scratch database (`recsite_train_drill` on the embedded server) gets a synthetic shop:
`--customers` customers buying from `--products` products over 120 days. One whole run of
`manage.py train_ranker --feature-set statistical` is timed (T); then runs are started and killed
with SIGKILL at each of `--fractions` of T (loading, building lists, fitting, about to write); after
each kill the stored versions are counted and every artifact is loaded with LightGBM. A last run
must finish and store the next version. Usage:

    .venv/bin/python bench/train_kill_drill.py [--customers 1500] [--products 400]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import drill_report  # noqa: E402
from recsite.database import embedded_database_url  # noqa: E402

SCRATCH_DATABASE = "recsite_train_drill"
T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
COMMAND = ["manage.py", "train_ranker", "--feature-set", "statistical", "--name", "drill"]


def setup(*, customers: int, products: int, seed: int = 7) -> str:
    url = embedded_database_url(database=SCRATCH_DATABASE)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "recsite.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from catalog.models import Customer, Event, EventType, Product
    from recommendations.models import RankerModel

    call_command("migrate", verbosity=0)
    RankerModel.objects.all().delete()
    Event.objects.all().delete()
    Customer.objects.all().delete()
    Product.objects.all().delete()
    items = Product.objects.bulk_create(
        [Product(external_id=f"P{i}", title=f"drill product {i}", price=1 + i % 50) for i in range(products)]
    )
    people = Customer.objects.bulk_create([Customer(external_id=f"C{c}") for c in range(customers)])
    rng = np.random.default_rng(seed)
    # Zipf-like popularity, and each customer a taste for a neighbourhood of items.
    weights = 1.0 / np.arange(1, products + 1)
    events = []
    for c, person in enumerate(people):
        home = rng.integers(products)
        for k in range(int(rng.integers(6, 18))):
            near = (home + rng.integers(-10, 10)) % products
            pick = near if rng.random() < 0.6 else rng.choice(products, p=weights / weights.sum())
            events.append(
                Event(
                    event_id=f"e{c}-{k}",
                    customer=person,
                    product=items[int(pick)],
                    type=EventType.PURCHASE,
                    timestamp=T0 + dt.timedelta(days=float(rng.uniform(0, 120))),
                )
            )
    Event.objects.bulk_create(events, batch_size=5000)
    call_command("build_neighbors", verbosity=0)
    return url


def stored_versions(url: str) -> tuple[int, int]:
    """(versions stored, versions whose artifact loads with the feature count it names)."""
    import lightgbm as lgb
    import psycopg

    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT artifact, feature_names FROM recommendations_rankermodel").fetchall()
    whole = 0
    for artifact, names in rows:
        try:
            whole += lgb.Booster(model_str=artifact).num_feature() == len(names)
        except lgb.basic.LightGBMError:
            pass
    return len(rows), whole


def start(url: str) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": url}
    return subprocess.Popen(
        [sys.executable, *COMMAND], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def run(*, customers: int, products: int, fractions: list[float]) -> dict:
    url = setup(customers=customers, products=products)
    rows = []
    started = time.perf_counter()
    full = start(url)
    output = full.communicate()[0]
    whole_s = time.perf_counter() - started
    stored, loads = stored_versions(url)
    rows.append({"run": "whole", "killed_at_s": None, "exit": full.returncode, "versions": stored, "loadable": loads})
    if full.returncode:
        raise SystemExit(output)
    for fraction in fractions:
        process = start(url)
        time.sleep(whole_s * fraction)
        finished = process.poll() is not None
        process.send_signal(signal.SIGKILL)
        process.communicate()
        stored, loads = stored_versions(url)
        rows.append(
            {
                "run": f"killed at {fraction:.0%}" + (" (had finished)" if finished else ""),
                "killed_at_s": round(whole_s * fraction, 2),
                "exit": process.returncode,
                "versions": stored,
                "loadable": loads,
            }
        )
    started = time.perf_counter()
    last = start(url)
    output = last.communicate()[0]
    next_s = time.perf_counter() - started
    stored, loads = stored_versions(url)
    rows.append(
        {"run": "next run", "killed_at_s": None, "exit": last.returncode, "versions": stored, "loadable": loads}
    )
    summary = {
        "customers": customers,
        "products": products,
        "whole_run_s": round(whole_s, 2),
        "next_run_s": round(next_s, 2),
        "next_run_said": next((line for line in output.splitlines() if line.startswith("drill v")), output[-300:]),
        "partial_versions": sum(r["versions"] - r["loadable"] for r in rows),
    }
    return {"rows": rows, "summary": summary}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1500)
    parser.add_argument("--products", type=int, default=400)
    parser.add_argument("--fractions", default="0.3,0.6,0.8,0.95", help="kill points, as shares of a whole run")
    args = parser.parse_args()
    fractions = [float(f) for f in args.fractions.split(",")]
    report = run(customers=args.customers, products=args.products, fractions=fractions)
    drill_report("train_kill_drill", report["rows"], report["summary"], args)


if __name__ == "__main__":
    main()
