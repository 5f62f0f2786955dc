"""What running an experiment costs the home-feed endpoint: assignment plus exposure logging,
side by side with no experiment running.

In-process WSGI requests (Django's test client with an API key). The client's time includes the
`request_finished` flush of the rows written after the response, here inline
(`AFTER_RESPONSE_WRITER=inline`: what writing them costs a request's thread; under gunicorn a
writer thread takes them); the bench times the flush on its own too and reports both `total_ms`
and `waited_ms` (total minus flush: what the storefront waits for).
Blocks of requests alternate between on and off to spread machine noise over both.
Scratch database `recsite_bench_exposure` on the embedded server. Usage:

    .venv/bin/python bench/exposure_overhead.py [--blocks 10] [--per-block 100]
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

from bench.common import percentile, print_table, write_results  # noqa: E402


def setup() -> str:
    """Django against the scratch database with a catalog and a draft experiment; returns an API key."""
    from recsite.database import embedded_database_url

    os.environ["DATABASE_URL"] = embedded_database_url(database="recsite_bench_exposure")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "recsite.settings")
    os.environ["AFTER_RESPONSE_WRITER"] = "inline"
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    from accounts.services import api_key_create
    from catalog.models import ItemPopularity, Product
    from experiments.models import Experiment, Exposure, Variant

    call_command("migrate", verbosity=0)
    if not Product.objects.exists():
        products = Product.objects.bulk_create(
            Product(external_id=f"B{i:05d}", title=f"Bench product {i}", text_hash="-") for i in range(2000)
        )
        ItemPopularity.objects.bulk_create(
            ItemPopularity(product=p, score=float(i), computed_at=timezone.now()) for i, p in enumerate(products)
        )
    Exposure.objects.all().delete()
    Experiment.objects.all().delete()
    experiment = Experiment.objects.create(key="bench", placement="home_feed", salt="bench")
    for key, is_control in (("control", True), ("treatment", False)):
        Variant.objects.create(
            experiment=experiment, key=key, is_control=is_control, config={"routes": {"popularity": 1}}
        )
    _, raw_key = api_key_create(name="bench-exposure")
    return raw_key


_flush_ms: list[float] = []


def timed_flush(**kwargs: object) -> None:
    from recsite.after_response import flush

    started = time.perf_counter()
    flush(**kwargs)
    _flush_ms.append((time.perf_counter() - started) * 1000)


def time_requests(client, n: int, offset: int) -> list[tuple[float, float]]:
    """(total ms, flush ms) per request."""
    times = []
    for i in range(offset, offset + n):
        _flush_ms.clear()
        started = time.perf_counter()
        response = client.get("/api/v1/recommendations/", {"customer": f"C{i}", "k": 10})
        times.append(((time.perf_counter() - started) * 1000, sum(_flush_ms)))
        assert response.status_code == 200, response.content
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=10)
    parser.add_argument("--per-block", type=int, default=100)
    args = parser.parse_args()
    raw_key = setup()
    from django.core.signals import request_finished
    from django.test import Client

    from experiments.models import Experiment, Exposure
    from experiments.services import experiment_launch, experiment_pause
    from recsite.after_response import FLUSH_UID

    request_finished.disconnect(dispatch_uid=FLUSH_UID)
    request_finished.connect(timed_flush, dispatch_uid="bench.timed_flush")
    client = Client(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    experiment = Experiment.objects.get(key="bench")
    time_requests(client, 50, 10**6)  # warm-up: connections, caches
    samples: dict[str, list[tuple[float, float]]] = {"off": [], "on": []}
    for block in range(args.blocks):
        for mode in ("off", "on") if block % 2 == 0 else ("on", "off"):
            if mode == "on":
                experiment_launch(experiment_id=experiment.pk)
            samples[mode] += time_requests(client, args.per_block, offset=block * 10_000)
            if mode == "on":
                experiment_pause(experiment_id=experiment.pk)
    rows = []
    for mode, values in samples.items():
        total = sorted(t for t, _ in values)
        waited = sorted(t - f for t, f in values)
        flush = sorted(f for _, f in values)
        rows.append(
            {
                "experiment": mode,
                "requests": len(values),
                "total_p50_ms": percentile(total, 50),
                "total_p99_ms": percentile(total, 99),
                "waited_p50_ms": percentile(waited, 50),
                "waited_p99_ms": percentile(waited, 99),
                "flush_p50_ms": percentile(flush, 50),
                "mean_ms": statistics.fmean(total),
            }
        )
    exposures = Exposure.objects.count()
    print_table(rows)
    meta = {
        "total_p50_overhead_ms": rows[1]["total_p50_ms"] - rows[0]["total_p50_ms"],
        "waited_p50_overhead_ms": rows[1]["waited_p50_ms"] - rows[0]["waited_p50_ms"],
        "exposures_written": exposures,
    }
    print(
        f"p50 overhead with an experiment running: {meta['waited_p50_overhead_ms']:.3f} ms before the response, "
        f"{meta['total_p50_overhead_ms']:.3f} ms including the exposure flush; exposures written: {exposures}"
    )
    path = write_results("exposure_overhead", rows, meta)
    print(f"results: {path}")


if __name__ == "__main__":
    main()
