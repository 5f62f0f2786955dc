"""The offline gate on a small real shop: a strategy and the serving default measured on the same
split and stored together; bad strategies and empty shops refused with nothing stored."""

from __future__ import annotations

import pytest

from placements.public import StrategyError, default_strategies_forget, default_strategy_save
from recommendations.evaluation.gate import DEFAULT, STRATEGY, gate_comparison, gate_run, gate_strategy
from recommendations.evaluation.runner import EvaluationError
from recommendations.models import EvaluationRun, RankerModel
from tests.recommendations.ranking_shop import ranking_shop

pytestmark = pytest.mark.django_db

ITEMCF_ONLY = {"routes": {"itemcf": 1.0}}
POPULARITY_ONLY = {"routes": {"popularity": 1.0}}


@pytest.fixture(autouse=True)
def fresh_defaults():
    default_strategies_forget()
    yield
    default_strategies_forget()


def test_the_strategy_and_the_serving_default_are_stored_side_by_side_and_differ():
    # given a shop, and popularity alone serving the home feed
    ranking_shop()
    serving = default_strategy_save(placement="home_feed", config=POPULARITY_ONLY)

    # when item-CF alone is evaluated against it
    run = gate_run(config=ITEMCF_ONLY, name="itemcf only", placement="home_feed", source="a test")

    # then both rows are stored, on the same users, and the weights make a difference
    stored = EvaluationRun.objects.get()
    assert stored.pk == run.pk
    assert set(stored.strategies) == {STRATEGY, DEFAULT}
    assert stored.strategies[STRATEGY]["users"] == stored.strategies[DEFAULT]["users"] == 12
    assert stored.strategies[STRATEGY]["ndcg@10"] != stored.strategies[DEFAULT]["ndcg@10"]
    gate = stored.protocol["gate"]
    assert gate["strategy"] == {"name": "itemcf only", "config": ITEMCF_ONLY}
    assert gate["default"]["name"] == f"home_feed@v{serving.version}"
    assert gate["default"]["config"]["routes"] == {"popularity": 1.0}
    assert (gate["placement"], gate["source"]) == ("home_feed", "a test")
    assert stored.protocol["split"] == "cutoff" and "10%" in stored.protocol["cutoff_source"]
    assert stored.protocol["arms"][STRATEGY]["routes"] == {"itemcf": 1.0}


def test_the_comparison_reads_strategy_default_and_difference():
    ranking_shop()
    default_strategy_save(placement="home_feed", config=POPULARITY_ONLY)
    run = gate_run(config=ITEMCF_ONLY, name="itemcf only", placement="home_feed")

    rows = {metric: (mine, theirs, delta) for metric, mine, theirs, delta in gate_comparison(run)}

    assert set(rows) == {"ndcg@10", "recall@10", "coverage", "users", "seconds"}
    mine, theirs, delta = rows["ndcg@10"]
    assert (mine, theirs) == (run.strategies[STRATEGY]["ndcg@10"], run.strategies[DEFAULT]["ndcg@10"])
    assert delta == pytest.approx(mine - theirs)
    assert rows["users"][2] == 0


def test_the_same_weights_measure_the_same():
    ranking_shop()
    default_strategy_save(placement="home_feed", config=ITEMCF_ONLY)

    run = gate_run(config=ITEMCF_ONLY, name="same", placement="home_feed")

    for metric in ("ndcg@10", "recall@10", "coverage"):
        assert run.strategies[STRATEGY][metric] == run.strategies[DEFAULT][metric]


def test_a_named_ranker_that_cannot_be_trained_on_the_window_is_reported_not_silently_dropped():
    # given a ranker version of that name; the shop's window has no ranker training lists
    ranking_shop()
    RankerModel.objects.create(name="home", version=1, feature_set="statistical", artifact="")
    default_strategy_save(placement="home_feed", config={"routes": {"itemcf": 1.0}})

    run = gate_run(config={"routes": {"itemcf": 1.0}, "ranker": "home"}, name="ranked", placement="home_feed")

    # then the run says the ranker was not applied and why, and the fused order is what was measured
    ranker = run.protocol["arms"][STRATEGY]["ranker"]
    assert (ranker["name"], ranker["version"], ranker["feature_set"], ranker["applied"]) == (
        "home",
        1,
        "statistical",
        False,
    )
    assert "no customer has both history" in ranker["why"]
    assert run.strategies[STRATEGY]["ndcg@10"] == run.strategies[DEFAULT]["ndcg@10"]
    assert "ranker" not in run.protocol["arms"][DEFAULT]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"routes": {"ghost": 1.0}}, "unknown route 'ghost'"),
        ({"routes": {"itemcf": -1}}, "the weight must be a number >= 0"),
        ({"routes": {"itemcf": 1.0}, "ranker": "never-trained"}, "no ranker named 'never-trained'"),
    ],
)
def test_a_bad_strategy_is_refused_before_any_work(config, message):
    with pytest.raises(StrategyError, match=message):
        gate_strategy(config=config, name="bad", placement="home_feed")
    with pytest.raises(StrategyError, match=message):
        gate_run(config=config, name="bad", placement="home_feed")
    assert not EvaluationRun.objects.exists()


def test_an_unknown_placement_is_refused():
    with pytest.raises(StrategyError, match="unknown placement 'attic'"):
        gate_strategy(config=ITEMCF_ONLY, name="x", placement="attic")


def test_no_events_is_a_clear_error_and_nothing_is_stored():
    with pytest.raises(EvaluationError, match="no events to evaluate on"):
        gate_run(config=ITEMCF_ONLY, name="x", placement="home_feed")
    assert not EvaluationRun.objects.exists()
