"""Gradual rollouts of a default strategy: the split, raising it, completing it, rolling it back."""

from __future__ import annotations

import math

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from placements import defaults
from placements.defaults import (
    RolloutError,
    default_strategy,
    default_strategy_save,
    rollback_target,
    rollout_bucket,
    rollout_share_set,
)
from placements.models import DefaultStrategy, RolloutStep
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db

OLD = {"routes": {"itemcf": 1.0}}
NEW = {"routes": {"semantic": 1.0}, "k": 3}
CUSTOMERS = [f"c{i}" for i in range(10_000)]


@pytest.fixture(autouse=True)
def fresh_defaults():
    defaults.default_strategies_forget()
    yield
    defaults.default_strategies_forget()


def _on_new(customers: list[str]) -> set[str]:
    return {c for c in customers if default_strategy("home_feed", c).name == "home_feed@v2"}


def test_a_rollout_serves_its_share_of_customers_within_chance():
    default_strategy_save(placement="home_feed", config=OLD)
    default_strategy_save(placement="home_feed", config=NEW, share=20)

    on_new = len(_on_new(CUSTOMERS))

    # Binomial(10,000, 0.2): a 4-sigma band, so an honest hash fails about once in 15,000 runs.
    sigma = math.sqrt(len(CUSTOMERS) * 0.2 * 0.8)
    assert abs(on_new - 2_000) < 4 * sigma
    assert default_strategy("home_feed").name == "home_feed@v1"  # anonymous: the full version


def test_raising_the_share_keeps_everyone_already_on_the_new_version():
    default_strategy_save(placement="home_feed", config=OLD)
    default_strategy_save(placement="home_feed", config=NEW, share=10)
    first = _on_new(CUSTOMERS)

    rollout_share_set(placement="home_feed", share=50)
    raised = _on_new(CUSTOMERS)
    rollout_share_set(placement="home_feed", share=100)

    assert first < raised
    assert len(raised) / len(CUSTOMERS) == pytest.approx(0.5, abs=0.03)
    assert _on_new(CUSTOMERS[:500]) == set(CUSTOMERS[:500])
    assert list(RolloutStep.objects.order_by("pk").values_list("share", flat=True)) == [100, 10, 50, 100]


def test_the_bucket_is_stable_and_independent_of_the_version():
    assert rollout_bucket(placement="home_feed", version=2, customer_id="c1") == rollout_bucket(
        placement="home_feed", version=2, customer_id="c1"
    )
    assert rollout_bucket(placement="home_feed", version=2, customer_id="c1") != rollout_bucket(
        placement="home_feed", version=3, customer_id="c1"
    )


@pytest.mark.parametrize("share", [-1, 101, 12.5, True, "50"])
def test_a_share_outside_0_to_100_is_refused_and_nothing_changes(share):
    default_strategy_save(placement="search", config=OLD)
    rolling = default_strategy_save(placement="search", config=NEW, share=10)

    with pytest.raises(RolloutError, match="whole percent from 0 to 100"):
        rollout_share_set(placement="search", share=share)
    with pytest.raises(RolloutError, match="whole percent from 0 to 100"):
        default_strategy_save(placement="search", config=NEW, share=share)
    rolling.refresh_from_db()
    assert rolling.share == 10
    assert DefaultStrategy.objects.count() == 2


def test_no_rollout_to_move_is_refused():
    default_strategy_save(placement="search", config=OLD)
    with pytest.raises(RolloutError, match="search has no rollout in progress"):
        rollout_share_set(placement="search", share=30)


def test_one_click_rollback_during_a_rollout_restores_the_previous_default():
    default_strategy_save(placement="home_feed", config=OLD)
    default_strategy_save(placement="home_feed", config=NEW, share=30)
    assert rollback_target(placement="home_feed").version == 1

    client_view = _operator_client()
    answer = client_view.post(reverse("admin:placements_rollback", args=[DefaultStrategy.objects.get(version=2).pk]))

    assert answer.status_code == 302
    assert DefaultStrategy.objects.order_by("-version").first().config == OLD
    assert _on_new(CUSTOMERS[:2000]) == set()
    assert {default_strategy("home_feed", c).routes["itemcf"] for c in CUSTOMERS[:200]} == {1.0}


def test_an_operator_raises_the_share_from_the_admin_and_sees_the_history():
    default_strategy_save(placement="home_feed", config=OLD)
    rolling = default_strategy_save(placement="home_feed", config=NEW, share=5)
    client = _operator_client()

    raised = client.post(reverse("admin:placements_rollout_share", args=[rolling.pk]), {"share": "40"}, follow=True)
    refused = client.post(reverse("admin:placements_rollout_share", args=[rolling.pk]), {"share": "140"}, follow=True)
    page = client.get(reverse("admin:placements_defaultstrategy_change", args=[rolling.pk])).content.decode()
    listing = client.get(reverse("admin:placements_defaultstrategy_changelist")).content.decode()

    assert "it now serves 40% of customers" in raised.content.decode()
    assert "whole percent from 0 to 100, got 140" in refused.content.decode()
    assert [step for step in RolloutStep.objects.filter(version=rolling).values_list("share", flat=True)] == [5, 40]
    assert 'id="rollout-set"' in page and "Roll back to v1" in page
    assert "rolling out: 40% of customers" in listing and "serving the other 60%" in listing


def test_the_feed_splits_customers_between_the_versions(storefront_client):
    ProductFactory(external_id="p1")
    default_strategy_save(placement="home_feed", config=OLD)
    default_strategy_save(placement="home_feed", config=NEW, share=50)

    names = {
        storefront_client.get("/api/v1/recommendations/", {"customer": c}).json()["strategy"] for c in CUSTOMERS[:40]
    }

    assert names == {"home_feed@v1", "home_feed@v2"}


def _operator_client():
    from django.contrib.auth import get_user_model
    from django.test import Client

    user = get_user_model().objects.create_user("olga", password="pw-12345678", is_staff=True)
    user.groups.add(Group.objects.get(name="Operators"))
    client = Client()
    client.force_login(user)
    return client
