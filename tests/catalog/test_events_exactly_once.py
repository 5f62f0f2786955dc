"""Events are stored exactly once: repeated, concurrent (several processes), out-of-order and
interrupted sends all end with the same rows, counts and attributions as one clean send."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.db.models import Count, Sum

from catalog.importing.events import events_ingest
from catalog.models import Customer, Event
from experiments.selectors import exposure_attribution
from experiments.serving import Assignment, exposure_log
from tests.factories import ProductFactory, make_experiment
from tests.processes import database_url_for

PRODUCTS = 40
MANAGE = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py")]


def event_rows(n: int, *, seed: int = 3) -> list[dict]:
    """`n` events of 150 customers (most of them new to the store), each with its idempotency key."""
    rng = random.Random(seed)
    kinds = ["view", "click", "add_to_cart", "purchase"]
    return [
        {
            "event_id": f"ev-{i}",
            "customer": f"shopper-{rng.randrange(150)}",
            "product": f"P{rng.randrange(PRODUCTS)}",
            "type": rng.choice(kinds),
            "timestamp": f"2024-05-{1 + i % 28:02d}T{i % 24:02d}:00:00Z",
            "value": round(rng.uniform(1, 50), 2),
        }
        for i in range(n)
    ]


def totals() -> dict:
    """What a send leaves behind, to compare with a clean send."""
    return {
        "events": Event.objects.count(),
        "customers": Customer.objects.count(),
        "value": round(Event.objects.aggregate(v=Sum("value"))["v"] or 0.0, 2),
        "by_type": dict(Event.objects.values_list("type").annotate(n=Count("id")).order_by("type")),
    }


def expected_totals(rows: list[dict]) -> dict:
    by_type: dict[str, int] = {}
    for row in rows:
        by_type[row["type"]] = by_type.get(row["type"], 0) + 1
    return {
        "events": len(rows),
        "customers": len({row["customer"] for row in rows}),
        "value": round(sum(row["value"] for row in rows), 2),
        "by_type": dict(sorted(by_type.items())),
    }


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def import_process(path: Path) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": database_url_for(connection.settings_dict)}
    return subprocess.Popen(
        [*MANAGE, "import_events", str(path)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


@pytest.fixture
def catalog(db):
    return [ProductFactory(external_id=f"P{i}") for i in range(PRODUCTS)]


def test_the_same_batch_twice_through_the_api_is_stored_once(storefront_client, catalog):
    rows = event_rows(300)

    first = storefront_client.post("/api/v1/events/", rows, content_type="application/json")
    second = storefront_client.post("/api/v1/events/", rows, content_type="application/json")

    assert first.status_code == second.status_code == 201
    assert first.json()["created"] == 300
    assert (second.json()["created"], second.json()["duplicates"]) == (0, 300)
    assert totals() == expected_totals(rows)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_overlapping_batches_from_several_processes_at_once_store_each_event_once(catalog, tmp_path):
    # given four processes sending the same 19,000 events, each in its own order (so their
    # inserts meet the same keys in different orders), half of them new customers
    rows = event_rows(19_000)
    files = []
    for n in range(4):
        shuffled = rows[:]
        random.Random(n).shuffle(shuffled)
        files.append(write_jsonl(tmp_path / f"batch{n}.jsonl", shuffled))

    # when they all import at the same time
    processes = [import_process(path) for path in files]
    outputs = [process.communicate(timeout=300)[0].decode() for process in processes]

    # then every process finished and the store holds each event once
    assert [p.returncode for p in processes] == [0, 0, 0, 0], outputs
    assert totals() == expected_totals(rows)
    created = sum(int(out.split("created ")[1].split(",")[0]) for out in outputs)
    assert created == len(rows)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_an_import_killed_half_way_then_resent_ends_like_a_clean_send(catalog, tmp_path):
    # given a file of several chunks
    rows = event_rows(120_000, seed=5)
    path = write_jsonl(tmp_path / "big.jsonl", rows)

    # when the import is killed once some chunks are stored
    process = import_process(path)
    deadline = time.monotonic() + 240
    while Event.objects.count() == 0 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    stored_when_killed = Event.objects.count()
    # and the whole file is sent again
    again = import_process(path)
    again.communicate(timeout=300)

    # then nothing was half-written and nothing is counted twice
    assert 0 < stored_when_killed < len(rows)
    assert stored_when_killed % 20_000 == 0  # whole chunks only: each commits in one transaction
    assert again.returncode == 0
    assert totals() == expected_totals(rows)


def test_events_that_arrive_before_their_exposure_and_out_of_time_order_are_attributed(catalog):
    # given an experiment's served list whose events reach the store before the exposure is
    # written, and the purchase before the click
    experiment = make_experiment()
    assignment_variant = experiment.variants.get(key="control")
    rec_id = uuid.uuid4()
    later_first = [
        {
            "event_id": "buy",
            "customer": "c1",
            "product": "P2",
            "type": "purchase",
            "value": 9.5,
            "timestamp": "2024-05-02T10:05:00Z",
            "recommendation_id": str(rec_id),
        },
        {
            "event_id": "click",
            "customer": "c1",
            "product": "P2",
            "type": "click",
            "timestamp": "2024-05-02T10:00:00Z",
            "recommendation_id": str(rec_id),
        },
    ]
    events_ingest(rows=later_first)

    # when the exposure is written afterwards
    exposure_log(
        assignment=Assignment(
            experiment_id=experiment.pk,
            experiment_key=experiment.key,
            variant_id=assignment_variant.pk,
            variant_key="control",
            strategy=None,
        ),
        recommendation_id=rec_id,
        customer_id="c1",
        placement="home_feed",
        product_ids=["P1", "P2"],
    )

    # then both events belong to the list, in time order, with the item's position
    attribution = exposure_attribution(recommendation_id=rec_id)
    assert [(e.event_id, e.position) for e in attribution.events] == [("click", 2), ("buy", 2)]
    assert attribution.variant_key == "control"
