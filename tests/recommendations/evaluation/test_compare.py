"""`strategies_compare` on hand-made arrays: arms on one split, each with its own weights, and a
ranker that reorders an arm's list or is reported as not applied."""

import numpy as np
import pytest

from recommendations.evaluation.compare import Arm, strategies_compare
from recommendations.evaluation.runner import EvaluationConfig, EvaluationError, evaluation_run
from tests.recommendations.evaluation.test_runner import embeddings_for, random_shop, shop

POPULARITY = Arm(routes={"popularity": 1.0}, candidates_per_route=100)
ITEMCF = Arm(routes={"itemcf": 1.0}, candidates_per_route=100)


def test_each_arm_is_measured_with_its_own_weights_on_the_same_users():
    events = random_shop(customers=80, items=30, events=1500, seed=3)
    embeddings = embeddings_for(events.n_items)

    result = strategies_compare(
        interactions=events, embeddings=embeddings, arms={"pop": POPULARITY, "cf": ITEMCF}, config=EvaluationConfig()
    )

    # the same numbers as `evaluate`'s single-route rows on the same (default) split
    alone = evaluation_run(
        interactions=events,
        embeddings=embeddings,
        config=EvaluationConfig(strategies=("fused",), route_weights={"itemcf": 1.0}),
    )
    assert result.strategies["cf"]["ndcg@10"] == alone.strategies["fused"]["ndcg@10"]
    assert result.strategies["pop"]["ndcg@10"] != result.strategies["cf"]["ndcg@10"]
    assert result.strategies["pop"]["users"] == result.strategies["cf"]["users"] == result.protocol["users_evaluated"]
    assert result.protocol["cutoff"] == alone.protocol["cutoff"]
    assert result.protocol["arms"]["pop"] == {"routes": {"popularity": 1.0}, "candidates_per_route": 100}


def test_a_ranker_reorders_its_arms_list():
    events = random_shop(customers=80, items=30, events=1500, seed=3)
    ranked = Arm(routes={"itemcf": 1.0, "popularity": 0.1}, candidates_per_route=100, feature_set="statistical")
    fused = Arm(routes={"itemcf": 1.0, "popularity": 0.1}, candidates_per_route=100)

    result = strategies_compare(
        interactions=events, embeddings=None, arms={"ranked": ranked, "fused": fused}, config=EvaluationConfig()
    )

    info = result.protocol["arms"]["ranked"]["ranker"]
    assert info["applied"] is True and info["feature_set"] == "statistical"
    assert info["training"]["lists"] > 0
    assert "ranker" not in result.protocol["arms"]["fused"]
    assert result.strategies["ranked"]["ndcg@10"] != result.strategies["fused"]["ndcg@10"]


def test_a_ranker_that_cannot_be_trained_is_reported_and_the_fused_order_measured():
    # given a shop with a single visit per customer before the test: no ranker training lists
    events = shop(users=[0, 0, 1, 1], items=[0, 1, 1, 2], days=[1, 10, 1, 10])
    ranked = Arm(routes={"popularity": 1.0}, candidates_per_route=10, feature_set="statistical")

    result = strategies_compare(
        interactions=events, embeddings=None, arms={"ranked": ranked, "plain": POPULARITY}, config=EvaluationConfig()
    )

    info = result.protocol["arms"]["ranked"]["ranker"]
    assert info["applied"] is False and info["why"]
    assert result.strategies["ranked"]["ndcg@10"] == result.strategies["plain"]["ndcg@10"]


def test_unknown_feature_sets_and_empty_data_are_refused():
    events = random_shop()
    with pytest.raises(EvaluationError, match="unknown ranker feature sets: nope"):
        strategies_compare(
            interactions=events,
            embeddings=None,
            arms={"x": Arm(routes={"itemcf": 1.0}, candidates_per_route=10, feature_set="nope")},
            config=EvaluationConfig(),
        )
    empty = shop(users=[0], items=[0], days=[0]).subset(np.zeros(1, dtype=bool))
    with pytest.raises(EvaluationError, match="no events"):
        strategies_compare(interactions=empty, embeddings=None, arms={"x": ITEMCF}, config=EvaluationConfig())
