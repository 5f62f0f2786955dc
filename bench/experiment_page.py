"""The experiment results page with a million exposures: snapshot build time and page render time.

Generates (in SQL, in seconds) an experiment of 14 days with N exposures spread over 200,000
customers, 5% of them clicked, then times `experiment_snapshots_build` (the hourly beat task's
work) and the admin results page through Django's test client (median of several loads).
Scratch database `recsite_bench_dashboard` on the embedded server. Usage:

    .venv/bin/python bench/experiment_page.py [--exposures 1000000] [--loads 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import print_table, write_results  # noqa: E402

CUSTOMERS = 200_000
DAYS = 14


def setup_django() -> None:
    from recsite.database import embedded_database_url

    os.environ["DATABASE_URL"] = embedded_database_url(database="recsite_bench_dashboard")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "recsite.settings")
    import django

    django.setup()


def generate(exposures: int) -> int:
    """A fresh experiment with `exposures` exposures and ~5% clicks on them; returns its id."""
    import datetime as dt

    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from catalog.models import Product
    from experiments.models import Experiment, Status, Variant

    call_command("migrate", verbosity=0)
    Experiment.objects.all().delete()
    product, _ = Product.objects.get_or_create(external_id="BENCH-1", defaults={"title": "Bench", "text_hash": "-"})
    start = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0) - dt.timedelta(days=DAYS - 1)
    experiment = Experiment.objects.create(
        key="bench-page", placement="home_feed", salt="bench", status=Status.RUNNING, started_at=start
    )
    control = Variant.objects.create(
        experiment=experiment, key="control", is_control=True, config={"routes": {"popularity": 1}}
    )
    treatment = Variant.objects.create(experiment=experiment, key="treatment", config={"routes": {"itemcf": 1}})
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM catalog_event WHERE event_id LIKE %s", ["bench-page:%"])
        cursor.execute(
            "INSERT INTO catalog_customer (external_id, attributes, created_at) "
            "SELECT 'BP' || g, '{}', now() FROM generate_series(1, %s) g ON CONFLICT DO NOTHING",
            [CUSTOMERS],
        )
        # A customer's variant is a function of the customer (as with the real hash), 50/50.
        cursor.execute(
            """
            INSERT INTO experiments_exposure
                (recommendation_id, experiment_id, variant_id, customer_external_id, placement, items, created_at)
            SELECT gen_random_uuid(), %(experiment)s,
                   CASE WHEN hashtext('BP' || c) %% 2 = 0 THEN %(control)s ELSE %(treatment)s END,
                   'BP' || c, 'home_feed', '[{"id": "BENCH-1", "position": 1}]',
                   %(start)s + (g::float8 / %(n)s) * interval '%(days)s days'
            FROM (SELECT g, 1 + (g::bigint * 7919) %% %(customers)s AS c FROM generate_series(1, %(n)s) g) s
            """,
            {
                "experiment": experiment.pk,
                "control": control.pk,
                "treatment": treatment.pk,
                "start": start,
                "n": exposures,
                "days": DAYS,
                "customers": CUSTOMERS,
            },
        )
        cursor.execute(
            """
            INSERT INTO catalog_event
                (event_id, customer_id, product_id, type, timestamp, recommendation_id, received_at)
            SELECT 'bench-page:' || x.recommendation_id, cu.id, %(product)s, 'click', x.created_at,
                   x.recommendation_id, now()
            FROM experiments_exposure x JOIN catalog_customer cu ON cu.external_id = x.customer_external_id
            WHERE x.experiment_id = %(experiment)s
              AND random() < CASE WHEN x.variant_id = %(treatment)s THEN 0.055 ELSE 0.05 END
            """,
            {"experiment": experiment.pk, "product": product.pk, "treatment": treatment.pk},
        )
        cursor.execute("ANALYZE experiments_exposure; ANALYZE catalog_event")
    return experiment.pk


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exposures", type=int, default=1_000_000)
    parser.add_argument("--loads", type=int, default=5)
    args = parser.parse_args()
    setup_django()
    from django.contrib.auth import get_user_model
    from django.test import Client

    from experiments.snapshots import experiment_snapshots_build

    started = time.perf_counter()
    experiment_id = generate(args.exposures)
    generate_s = time.perf_counter() - started
    started = time.perf_counter()
    days = experiment_snapshots_build(experiment_id=experiment_id)
    build_s = time.perf_counter() - started
    started = time.perf_counter()
    experiment_snapshots_build(experiment_id=experiment_id)
    rebuild_s = time.perf_counter() - started

    user, _ = get_user_model().objects.get_or_create(username="bench-ops", defaults={"is_staff": True})
    user.is_superuser = user.is_staff = True
    user.save()
    client = Client()
    client.force_login(user)
    url = f"/admin/experiments/experiment/{experiment_id}/results/"
    loads = []
    for _ in range(args.loads):
        started = time.perf_counter()
        response = client.get(url)
        loads.append(time.perf_counter() - started)
        assert response.status_code == 200, response.status_code
    rows = [
        {"step": "generate data (SQL)", "seconds": generate_s},
        {"step": f"snapshots: first build ({days} days)", "seconds": build_s},
        {"step": "snapshots: hourly rebuild (last 2 days)", "seconds": rebuild_s},
        {"step": f"results page, median of {args.loads}", "seconds": statistics.median(loads)},
        {"step": "results page, slowest", "seconds": max(loads)},
    ]
    print(f"{args.exposures:,} exposures over {CUSTOMERS:,} customers and {DAYS} days")
    print_table(rows)
    path = write_results("experiment_page", rows, {"exposures": args.exposures, "customers": CUSTOMERS})
    print(f"results: {path}")


if __name__ == "__main__":
    main()
