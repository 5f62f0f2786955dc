"""`manage.py evaluate` end to end on a tiny data set."""

import datetime as dt
import json

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from catalog.models import EventType, ProductEmbedding
from recommendations.models import EvaluationRun
from tests.factories import CustomerFactory, EventFactory, ProductFactory

START = dt.datetime(2011, 1, 1, tzinfo=dt.UTC)


@pytest.fixture
def tiny_shop(db):
    """Two taste groups: items 0-2 bought together, items 3-5 bought together.

    Before the cutoff (day 10) each of 8 customers buys two items of a group; after it, the third.
    """
    products = ProductFactory.create_batch(6)
    for i, product in enumerate(products):
        vector = np.zeros(384, dtype=np.float32)
        vector[i // 3] = 1.0
        vector[2 + i] = 0.1
        ProductEmbedding.objects.create(product=product, model_name="hand-made", text_hash="x", vector=vector)
    for c in range(8):
        customer = CustomerFactory()
        group = [0, 1, 2] if c % 2 == 0 else [3, 4, 5]
        first, second, later = np.roll(group, c // 2)[:3]
        for item, day in ((first, 1), (second, 2), (later, 12)):
            EventFactory(
                customer=customer,
                product=products[item],
                type=EventType.PURCHASE,
                timestamp=START + dt.timedelta(days=day),
            )
    return products


def test_evaluate_writes_json_and_stores_a_run(tiny_shop, tmp_path):
    out = tmp_path / "out.json"

    call_command("evaluate", "--cutoff", "2011-01-11", "--k", "2", "--json", str(out))

    result = json.loads(out.read_text())
    assert {"popularity", "itemcf", "semantic", "cf", "fused"} <= set(result["strategies"])
    assert result["protocol"]["users_evaluated"] == 8
    assert result["protocol"]["cutoff"] == "2011-01-11T00:00:00+00:00"
    # Within a group the one unseen item is the only candidate left of the group.
    assert result["strategies"]["itemcf"]["hitrate@2"] == 1.0
    assert result["strategies"]["fused"]["recall@2"] == 1.0
    run = EvaluationRun.objects.get()
    assert run.strategies == result["strategies"]
    assert run.protocol["k"] == 2


def test_evaluate_rejects_a_bad_cutoff_and_stores_nothing(tiny_shop):
    with pytest.raises(CommandError, match="ISO 8601"):
        call_command("evaluate", "--cutoff", "yesterday")
    with pytest.raises(CommandError, match="no user"):
        call_command("evaluate", "--cutoff", "2030-01-01", "--strategies", "popularity")

    assert EvaluationRun.objects.count() == 0
