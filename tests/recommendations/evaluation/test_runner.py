"""`evaluation_run` on data shapes that must not crash it: nothing to learn from, one customer, no
embeddings, one customer with 50,000 events. What cannot be computed is reported as such."""

import numpy as np
import pytest

from recommendations.contracts import Interactions
from recommendations.evaluation.runner import EvaluationConfig, EvaluationError, evaluation_run

DAY = 86_400.0
ALL = ("popularity", "itemcf", "semantic", "cf", "fused", "ranker_statistical", "ranker_semantic")


def shop(*, users, items, days, positive=None, n_items=None):
    users, items = np.asarray(users), np.asarray(items)
    return Interactions(
        users=users,
        items=items,
        weights=np.full(len(users), 4.0),
        timestamps=np.asarray(days, dtype=float) * DAY,
        positive=np.ones(len(users), dtype=bool) if positive is None else np.asarray(positive),
        n_users=int(users.max()) + 1,
        n_items=n_items or int(items.max()) + 1,
    )


def random_shop(*, customers=60, items=40, events=600, seed=0):
    rng = np.random.default_rng(seed)
    return shop(
        users=rng.integers(0, customers, events),
        items=rng.integers(0, items, events),
        days=np.sort(rng.uniform(0, 200, events)),
        n_items=items,
    )


def embeddings_for(n_items, seed=1):
    vectors = np.random.default_rng(seed).normal(size=(n_items, 16)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_every_strategy_has_a_row_on_an_ordinary_shop_with_counts_time_and_memory():
    events = random_shop()
    result = evaluation_run(
        interactions=events, embeddings=embeddings_for(events.n_items), config=EvaluationConfig(holdout_last=1)
    )
    assert set(result.strategies) == set(ALL)
    assert all("seconds" in row and 0 <= row["ndcg@10"] <= 1 for row in result.strategies.values())
    training = result.protocol["rankers"]["training"]
    assert training["lists"] > 0 and training["positives"] >= training["lists"]
    assert result.protocol["peak_rss_mb"] > 0 and result.protocol["collaborative"]["algorithm"] == "ease"


def test_no_positive_event_in_the_training_part_is_reported_not_raised():
    # given a shop where everything but each customer's last event is a view
    events = random_shop()
    last = np.zeros(len(events.users), dtype=bool)
    last[[np.flatnonzero(events.users == u).max() for u in np.unique(events.users)]] = True
    events = Interactions(**{**events.__dict__, "positive": last})

    result = evaluation_run(interactions=events, embeddings=None, config=EvaluationConfig(holdout_last=1))

    # then the routes have rows, the rankers none, and the protocol says why
    assert {"popularity", "itemcf", "fused"} <= set(result.strategies)
    assert "ranker_semantic" not in result.strategies
    assert "no customer has both history before their cut" in result.protocol["rankers"]["skipped"]


def test_a_single_customer_is_evaluated_and_the_rankers_say_why_they_cannot_train():
    # one customer buying a new item each day: nothing before a cut ever proposes the next item
    events = shop(users=[0] * 6, items=[0, 1, 2, 3, 4, 5], days=[1, 2, 3, 4, 5, 6])
    result = evaluation_run(interactions=events, embeddings=None, config=EvaluationConfig(holdout_last=1))
    assert result.strategies["fused"]["users"] == 1
    assert "no customer has both history before their cut" in result.protocol["rankers"]["skipped"]


def test_too_few_customers_to_validate_on_is_reported():
    # two customers buying the same items in turn: lists exist, but one customer cannot be split
    # into training and validation customers with a positive each
    events = shop(users=[0, 1, 0, 1, 0], items=[0, 0, 1, 1, 2], days=[1, 1, 2, 2, 3])
    result = evaluation_run(interactions=events, embeddings=None, config=EvaluationConfig(holdout_last=1))
    assert "skipped" in result.protocol["rankers"]


def test_items_without_text_leave_the_semantic_route_empty_and_the_rest_ranked():
    events = random_shop()
    result = evaluation_run(interactions=events, embeddings=None, config=EvaluationConfig(holdout_last=1))
    assert result.protocol["embedded_items"] == 0
    assert result.strategies["semantic"]["ndcg@10"] == 0.0 and result.strategies["semantic"]["coverage"] == 0.0
    assert result.strategies["ranker_semantic"]["users"] == result.strategies["fused"]["users"]


def test_one_customer_with_fifty_thousand_events_evaluates():
    # given an ordinary shop plus one customer (a reseller) with 50,000 events
    base = random_shop()
    rng = np.random.default_rng(3)
    heavy = 50_000
    events = shop(
        users=np.r_[base.users, np.full(heavy, base.n_users)],
        items=np.r_[base.items, rng.integers(0, base.n_items, heavy)],
        days=np.r_[base.timestamps / DAY, np.sort(rng.uniform(0, 200, heavy))],
        n_items=base.n_items,
    )

    result = evaluation_run(
        interactions=events, embeddings=embeddings_for(events.n_items), config=EvaluationConfig(holdout_last=1)
    )

    assert set(result.strategies) == set(ALL)


def test_bad_arguments_are_refused_with_a_reason():
    events = random_shop()
    with pytest.raises(EvaluationError, match="k must be at least 1"):
        evaluation_run(interactions=events, embeddings=None, config=EvaluationConfig(k=0))
    with pytest.raises(EvaluationError, match="unknown strategies: als"):
        evaluation_run(interactions=events, embeddings=None, config=EvaluationConfig(strategies=("als",)))
