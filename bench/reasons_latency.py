"""Reasons on vs off: the recommendations endpoint's latency on the cache path, side by side.

In-process (Django's test client, no network) against the demo database, with an API key made for
the run (deleted after). Every sampled customer is served once with reasons first (the warm-up
fills the reason cache, as traffic does), then each round requests every customer with reasons on
and off in alternating order, so both see the same load. `--backend openai` serves generated
reasons cached by `bench/reasons_cache.py` (misses are generated at once by a stand-in endpoint
during the warm-up, never during the timed rounds); the default is the grounded backend.

    OMP_NUM_THREADS=1 .venv/bin/python bench/reasons_latency.py [--customers 200] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import percentile, print_table, write_results  # noqa: E402
from bench.reasons_cache import STAND_IN_MODEL, _StandIn  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--backend", choices=["grounded", "openai"], default="grounded")
    args = parser.parse_args()
    os.environ["API_KEY_RATE"] = "100000000/min"  # the bench is not about throttling
    if args.backend == "openai":
        server = ThreadingHTTPServer(("127.0.0.1", 0), _StandIn)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        os.environ.update(
            {
                "REASON_BACKEND": "openai",
                "REASON_OPENAI_URL": f"http://127.0.0.1:{server.server_address[1]}/v1",
                "REASON_OPENAI_MODEL": STAND_IN_MODEL,
            }
        )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "recsite.settings")
    import django

    django.setup()
    from django.db import connection
    from django.test import Client

    from accounts.models import ApiKey
    from accounts.services import api_key_create
    from recommendations.reasons import cache
    from recsite.celery import app as celery_app

    # Misses during the warm-up are generated in this process, not sent to the shared broker.
    celery_app.conf.task_always_eager = True
    key, raw = api_key_create(name="bench-reasons")
    client = Client(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT c.external_id FROM catalog_customer c JOIN catalog_event e ON e.customer_id = c.id"
        )
        customers = sorted(row[0] for row in cursor.fetchall())
    sample = random.Random(1).sample(customers, min(args.customers, len(customers)))
    url = "/api/v1/recommendations/"
    try:
        for customer in sample:  # warm-up: caches (reasons, popularity, ranker snapshots) and connections
            assert client.get(url, {"customer": customer}).status_code == 200
            client.get(url, {"customer": customer, "reasons": "false"})
        before = dict(cache.stats)
        timings: dict[str, list[float]] = {"on": [], "off": []}
        for round_ in range(args.rounds):
            for i, customer in enumerate(sample):
                modes = ("on", "off") if (i + round_) % 2 == 0 else ("off", "on")
                for mode in modes:
                    params = {"customer": customer} if mode == "on" else {"customer": customer, "reasons": "false"}
                    began = time.perf_counter()
                    response = client.get(url, params)
                    timings[mode].append((time.perf_counter() - began) * 1000)
                    assert response.status_code == 200
        after = dict(cache.stats)
    finally:
        ApiKey.objects.filter(pk=key.pk).delete()
    rows = []
    for mode in ("off", "on"):
        values = sorted(timings[mode])
        rows.append(
            {
                "reasons": mode,
                "requests": len(values),
                "p50_ms": percentile(values, 50),
                "p99_ms": percentile(values, 99),
            }
        )
    delta = rows[1]["p50_ms"] - rows[0]["p50_ms"]
    print_table(rows)
    timed_stats = {k: after.get(k, 0) - before.get(k, 0) for k in set(after) | set(before)}
    meta = {
        "backend": args.backend,
        "customers": len(sample),
        "rounds": args.rounds,
        "p50_delta_ms": delta,
        "p50_ratio": rows[1]["p50_ms"] / rows[0]["p50_ms"],
        "cache_stats_during_timed_rounds": timed_stats,
        "omp_threads": os.environ.get("OMP_NUM_THREADS"),
        "note": "machine shared with other engineers while measured (2 cores)",
    }
    print(meta)
    print(write_results(f"reasons_latency_{args.backend}", rows, meta))


if __name__ == "__main__":
    main()
