"""Each placement's default strategy: versions, rollback, refusals, and what serving reads."""

from __future__ import annotations

import time

import pytest
from django.utils import timezone

from catalog.models import ItemPopularity
from placements import defaults
from placements.defaults import (
    default_strategy,
    default_strategy_rollback,
    default_strategy_save,
)
from placements.models import DefaultStrategy
from placements.strategy import Strategy, StrategyError, built_in_strategy
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db

FEED = "/api/v1/recommendations/"


@pytest.fixture(autouse=True)
def fresh_defaults():
    defaults.default_strategies_forget()
    yield
    defaults.default_strategies_forget()


@pytest.fixture
def popular_items():
    now = timezone.now()
    products = [ProductFactory(external_id=f"p{i}") for i in range(1, 6)]
    ItemPopularity.objects.bulk_create(
        ItemPopularity(product=p, score=10.0 - i, computed_at=now) for i, p in enumerate(products)
    )
    return products


def test_without_a_stored_version_each_placement_serves_its_built_in_strategy():
    assert default_strategy("home_feed") == Strategy()
    assert (default_strategy("similar_items").name, default_strategy("similar_items").routes) == (
        "similar",
        Strategy().routes,
    )
    assert (default_strategy("search").name, default_strategy("search").routes) == ("search", {"semantic": 1.0})


def test_each_save_is_a_new_version_and_the_latest_serves(admin_user):
    default_strategy_save(placement="home_feed", config={"routes": {"itemcf": 1}}, note="first", user=admin_user)
    second = default_strategy_save(placement="home_feed", config={"routes": {"semantic": 1}, "k": 5}, note="second")

    assert second.version == 2
    assert DefaultStrategy.objects.get(placement="home_feed", version=1).created_by == admin_user
    served = default_strategy("home_feed")
    assert (served.name, served.routes, served.k) == ("home_feed@v2", {"semantic": 1.0}, 5)
    assert default_strategy("search") == built_in_strategy("search")  # other placements are untouched


def test_a_rollback_serves_an_older_strategy_as_a_new_version():
    default_strategy_save(placement="similar_items", config={"routes": {"itemcf": 1}})
    default_strategy_save(placement="similar_items", config={"routes": {"semantic": 1}})

    rolled = default_strategy_rollback(placement="similar_items", to_version=1)

    assert (rolled.version, rolled.config, rolled.note) == (3, {"routes": {"itemcf": 1}}, "rollback to v1")
    assert default_strategy("similar_items").routes == {"itemcf": 1.0}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"routes": {"nope": 1}}, "unknown route 'nope'"),
        ({"routes": {"itemcf": -1}}, "route 'itemcf': the weight must be a number >= 0"),
        ({"routes": {"itemcf": 1}, "ranker": "ghost"}, "no active ranker named 'ghost'"),
        ({"routes": {"itemcf": 1}, "reasons": "ghost"}, "no active reason template named 'ghost'"),
    ],
)
def test_a_strategy_that_cannot_serve_is_refused_and_nothing_is_stored(config, message):
    with pytest.raises(StrategyError, match=message):
        default_strategy_save(placement="home_feed", config=config)
    assert not DefaultStrategy.objects.exists()


def test_an_unknown_placement_or_version_is_refused():
    with pytest.raises(ValueError, match="unknown placement 'cart'"):
        default_strategy_save(placement="cart", config={"routes": {"itemcf": 1}})
    with pytest.raises(ValueError, match="home_feed has no version 4"):
        default_strategy_rollback(placement="home_feed", to_version=4)


def test_the_feed_serves_the_default_and_a_change_from_another_process_within_the_cache_window(
    storefront_client, popular_items, monkeypatch
):
    monkeypatch.setattr(defaults, "CACHE_SECONDS", 0.5)

    before = storefront_client.get(FEED, {"customer": "new", "k": 4}).json()
    # Another process stores a version: this one sees it once its snapshot is older than the window.
    DefaultStrategy.objects.create(placement="home_feed", version=1, config={"routes": {"popularity": 1}, "k": 2})
    within = storefront_client.get(FEED, {"customer": "new", "k": 4}).json()
    time.sleep(0.6)
    after = storefront_client.get(FEED, {"customer": "new", "k": 4}).json()

    assert (before["strategy"], len(before["items"])) == ("fused", 4)
    assert (within["strategy"], len(within["items"])) == ("fused", 4)
    assert (after["strategy"], len(after["items"])) == ("home_feed@v1", 2)
