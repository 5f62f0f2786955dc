"""Ranking metrics against a hand-computed case (pure functions)."""

import math

import pytest

from recommendations.evaluation.metrics import aggregate_metrics, user_metrics


def test_user_metrics_hand_computed():
    # given: a hit at rank 2 of 3; three relevant items, so the ideal DCG has 3 hits
    metrics = user_metrics(ranked=[5, 1, 7, 2], truth={1, 2, 9}, k=3)

    # then: item 2 sits at rank 4, beyond K
    ideal = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert metrics.recall == pytest.approx(1 / 3)
    assert metrics.ndcg == pytest.approx((1 / math.log2(3)) / ideal)
    assert metrics.hit == 1.0
    assert metrics.reciprocal_rank == 0.5


def test_ideal_dcg_counts_at_most_k_hits():
    metrics = user_metrics(ranked=[1, 2], truth={1, 2, 3, 4}, k=2)

    assert metrics.ndcg == pytest.approx(1.0)
    assert metrics.recall == pytest.approx(0.5)


def test_aggregate_averages_users_and_measures_coverage():
    result = aggregate_metrics(rankings=[[5, 1, 7, 2], [3, 4, 6]], truths=[{1, 2, 9}, {8}], k=3, n_items=12)

    ideal = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert result == pytest.approx(
        {
            "recall@3": 1 / 6,
            "ndcg@3": (1 / math.log2(3)) / ideal / 2,
            "hitrate@3": 0.5,
            "mrr": 0.25,
            "coverage": 6 / 12,
            "users": 2,
        }
    )
