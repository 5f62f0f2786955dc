"""The personal routes' candidates computed ahead (recall.ahead): kept by one request, found by
the next, never used once the history or the routes' tables changed."""

import datetime as dt

import numpy as np
import pytest
from django.core.cache import cache

from catalog.models import Customer, EventType, ItemNeighbor, ItemPopularity, ProductEmbedding
from placements.public import Strategy
from recommendations.contracts import Candidate, RecRequest
from recommendations.pipeline import recommend
from recommendations.recall import ahead, popularity, stage
from recommendations.recall.fused import route_arrays
from recommendations.recall.inputs import recall_inputs_changed
from recommendations.recall.itemcf import itemcf_neighbors_rebuild
from tests.factories import CustomerFactory, EventFactory, ProductFactory

NOW = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
ITEMCF = Strategy(name="itemcf", routes={"itemcf": 1.0})
MIXED = Strategy(name="mixed", routes={"itemcf": 1.0, "semantic": 0.5, "popularity": 0.1})


def unit(dim: int, other: int | None = None) -> np.ndarray:
    vector = np.zeros(384, dtype=np.float32)
    vector[dim] = 1.0
    if other is not None:
        vector[other] = 0.3
    return vector / np.linalg.norm(vector)


@pytest.fixture
def shop(db):
    """alice bought `mug` and viewed `kettle`; item-CF: mug → teapot, saucer; `toaster` sits next to
    `kettle`; `lamp` is the most popular; `vase` is proposed by no route."""
    popularity._cache.clear()
    p = {
        name: ProductFactory(external_id=name)
        for name in ("mug", "kettle", "teapot", "saucer", "toaster", "lamp", "vase")
    }
    alice = CustomerFactory(external_id="alice")
    EventFactory(customer=alice, product=p["mug"], type=EventType.PURCHASE, timestamp=NOW - dt.timedelta(days=1))
    EventFactory(customer=alice, product=p["kettle"], type=EventType.VIEW, timestamp=NOW)
    ItemNeighbor.objects.create(product=p["mug"], neighbor=p["teapot"], score=0.6, rank=1)
    ItemNeighbor.objects.create(product=p["mug"], neighbor=p["saucer"], score=0.4, rank=2)
    ItemPopularity.objects.create(product=p["lamp"], score=10.0, computed_at=NOW)
    for name, vector in {"mug": unit(0), "kettle": unit(1), "toaster": unit(1, 2), "lamp": unit(3)}.items():
        ProductEmbedding.objects.create(product=p[name], model_name="hand-made", text_hash="x", vector=vector)
    yield p
    popularity._cache.clear()


@pytest.fixture
def keys(monkeypatch):
    """The keys the recall stage asks the cache for, in order (the real `ahead_key`, recorded)."""
    asked: list[str | None] = []
    real = ahead.ahead_key

    def recording(**kwargs):
        asked.append(real(**kwargs))
        return asked[-1]

    monkeypatch.setattr(stage, "ahead_key", recording)
    return asked


def feed(strategy: Strategy = ITEMCF) -> list[str]:
    return [
        item.product_id for item in recommend(request=RecRequest(customer_id="alice", k=5), strategy=strategy).items
    ]


def doctor(key: str, product) -> None:
    """Replace what is kept under `key` by one item-CF candidate no route proposes."""
    cache.set(key, {"itemcf": route_arrays([Candidate(product_pk=product.pk, route="itemcf", score=1.0)])})


def test_the_next_request_takes_what_the_first_kept(shop, keys):
    assert feed() == ["teapot", "saucer"]
    (key,) = keys
    assert key is not None and cache.get(key) is not None

    doctor(key, shop["vase"])

    # The same history, the same routes: the kept candidates, not the routes' answer.
    assert feed() == ["vase"]
    assert keys[1] == key


def test_a_new_event_makes_the_kept_candidates_unused(shop, keys):
    feed()
    doctor(keys[0], shop["vase"])

    alice = Customer.objects.get(external_id="alice")
    EventFactory(customer=alice, product=shop["lamp"], type=EventType.VIEW, timestamp=NOW + dt.timedelta(hours=1))

    assert feed() == ["teapot", "saucer"]
    assert keys[1] != keys[0]


def test_a_rebuild_of_the_neighbours_makes_them_unused(shop, keys, django_capture_on_commit_callbacks):
    feed()
    doctor(keys[0], shop["vase"])

    with django_capture_on_commit_callbacks(execute=True):
        recall_inputs_changed()

    assert feed() == ["teapot", "saucer"]
    assert keys[1] != keys[0]

    # The item-CF rebuild counts as a change by itself (from alice's two events: mug ↔ kettle).
    with django_capture_on_commit_callbacks(execute=True):
        itemcf_neighbors_rebuild()
    feed()
    assert keys[2] != keys[1]


def test_served_lists_are_the_same_kept_or_not(shop, keys, settings):
    computed = recommend(request=RecRequest(customer_id="alice", k=5), strategy=MIXED)
    kept = recommend(request=RecRequest(customer_id="alice", k=5), strategy=MIXED)
    settings.RECALL_AHEAD_SECONDS = 0
    unkept = recommend(request=RecRequest(customer_id="alice", k=5), strategy=MIXED)

    assert keys[0] == keys[1] is not None and keys[2] is None
    as_served = [
        [(i.product_id, i.score, i.routes, i.seeds, i.reason) for i in r.items] for r in (computed, kept, unkept)
    ]
    assert as_served[0] == as_served[1] == as_served[2]
    assert {"teapot", "toaster", "lamp"} <= {item[0] for item in as_served[0]}


def test_turned_off_nothing_is_kept(shop, keys, settings):
    settings.RECALL_AHEAD_SECONDS = 0

    assert feed() == ["teapot", "saucer"]
    assert keys == [None]


def test_other_strategies_and_pages_keep_their_own(shop, keys):
    feed(ITEMCF)
    feed(MIXED)
    recommend(request=RecRequest(customer_id="alice", k=5, seen=(shop["teapot"].pk,)), strategy=ITEMCF)

    assert len(set(keys)) == 3


def test_with_the_cache_out_of_reach_the_routes_answer(shop, keys, monkeypatch):
    def down(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(cache, "get", down)
    monkeypatch.setattr(cache, "set", down)

    assert feed() == ["teapot", "saucer"]
    assert feed() == ["teapot", "saucer"]
