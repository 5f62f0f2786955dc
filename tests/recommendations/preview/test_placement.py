"""The merchandisers' preview: what a customer is served now and why, and the rules that left no mark."""

from __future__ import annotations

import pytest

from catalog.models import Product
from experiments.models import Kind
from experiments.services import experiment_launch
from experiments.serving import running_experiments_forget
from placements.defaults import default_strategies_forget, default_strategy_save
from recommendations.preview.placement import SERVED_NOW, recommendation_preview
from recommendations.rules.active import rules_forget
from tests.factories import ExperimentFactory, MerchRuleFactory, VariantFactory, make_experiment


@pytest.fixture(autouse=True)
def fresh_snapshots():
    for forget in (default_strategies_forget, running_experiments_forget, rules_forget):
        forget()
    yield
    for forget in (default_strategies_forget, running_experiments_forget, rules_forget):
        forget()


def _label(customer: str = "alice") -> str:
    return recommendation_preview(
        placement="home_feed", customer_id=customer, strategy_choice=SERVED_NOW
    ).strategy_label


def test_served_now_names_the_default_the_experiment_or_the_rollout_side(merch_shop):
    assert _label() == "served now: the default fused, no experiment"

    default_strategy_save(placement="home_feed", config={"routes": {"popularity": 1.0}})
    default_strategy_save(placement="home_feed", config={"routes": {"popularity": 1.0}, "k": 4}, share=100)
    default_strategy_save(placement="home_feed", config={"routes": {"popularity": 1.0}, "k": 3}, share=50)
    labels = {_label(f"c{i}") for i in range(40)}
    assert labels == {
        "served now: home_feed@v3, the rolling-out version (this customer is in its share)",
        "served now: the default home_feed@v2 (outside the rolling-out version's share), no experiment",
    }

    make_experiment(key="feed-test")
    running_experiments_forget()
    assert _label().startswith("served now: experiment feed-test, variant ")


def test_rules_that_left_no_mark_say_why(merch_shop):
    Product.objects.filter(external_id="p5").update(in_stock=False)
    MerchRuleFactory(name="pin p5", kind="pin", product=merch_shop["p5"], position=1)
    MerchRuleFactory(name="search boost", kind="boost", placement="search", item_ids="p2")
    MerchRuleFactory(name="pin p6 deep", kind="pin", product=merch_shop["p6"], position=9)
    rules_forget()

    preview = recommendation_preview(placement="home_feed", customer_id="alice", k=3)

    notes = {note.name: note.note for note in preview.rule_notes}
    assert notes == {
        "pin p5": "dropped: p5 is out of stock",
        "search boost": "out of scope: it is for the search placement",
        "pin p6 deep": "its position 9 is beyond the list's 3 items",
    }


def test_served_now_in_an_interleaving_experiment_says_the_list_is_merged(merch_shop):
    experiment = ExperimentFactory(key="inter", kind=Kind.INTERLEAVING)
    VariantFactory(experiment=experiment, key="control", is_control=True)
    VariantFactory(experiment=experiment, key="challenger", config={"routes": {"popularity": 1}, "rules": False})
    experiment_launch(experiment_id=experiment.pk)
    assert _label() == (
        "served now: interleaving experiment inter — control's list shown; the customer gets it merged with "
        "challenger's (team-draft)"
    )
