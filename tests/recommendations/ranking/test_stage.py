"""The rank stage: training and serving see the same features, fallbacks, activation switching."""

import datetime as dt

import numpy as np
import pytest

from catalog.models import Customer, Event
from placements.public import Strategy
from recommendations.contracts import FusedItem, RecRequest
from recommendations.interactions import interactions_load
from recommendations.models import RankerModel
from recommendations.pipeline import recommend
from recommendations.ranking import stage as serving
from recommendations.ranking.features import FEATURE_SETS, MISSING_SCORE, ROUTES, catalog_load
from recommendations.ranking.training import ranker_activate, training_data_build
from recommendations.recall import popularity
from tests.recommendations.ranking_shop import T, ranking_shop

RANKED = Strategy(name="ranked", routes={"popularity": 1.0}, ranker="shop")


@pytest.fixture(autouse=True)
def fresh_caches(monkeypatch):
    popularity._cache.clear()
    serving.reset()
    serving.fallbacks.clear()
    # Every request checks the active version (the production default caches it a few seconds).
    monkeypatch.setattr(serving, "VERSION_CHECK_SECONDS", -1.0)
    yield
    popularity._cache.clear()
    serving.reset()


@pytest.fixture
def shop(db):
    return ranking_shop()


def price_model(*, sign: float) -> str:
    """A LightGBM model over the statistical features whose score is sign × price."""
    import lightgbm as lgb

    names = FEATURE_SETS["statistical"]
    rng = np.random.default_rng(0)
    features = rng.random((400, len(names))) * 10
    target = sign * features[:, names.index("price")]
    params = {"objective": "regression", "min_data_in_leaf": 5, "verbose": -1, "seed": 0}
    booster = lgb.train(params, lgb.Dataset(features, label=target, feature_name=list(names)), num_boost_round=30)
    return booster.model_to_string()


def store(*, version, artifact, active=False):
    ranker = RankerModel.objects.create(
        name="shop", version=version, feature_set="statistical", artifact=artifact, feature_names=[]
    )
    # Hand-made models carry no held-out comparison: activated past the gate.
    return ranker_activate(ranker_id=ranker.pk, force=True) if active else ranker


def feed(customer="C0"):
    return recommend(request=RecRequest(customer_id=customer, k=6, include_purchased=True), strategy=RANKED)


def ids(recommendation):
    return [item.product_id for item in recommendation.items]


FUSED_ORDER = ["P0", "P1", "P2", "P3", "P4", "P5"]


def test_training_and_serving_compute_the_same_feature_vectors(shop):
    # given the training lists (each customer's last visit, T + 2 days, is cut off first), and one
    # customer's list from them
    interactions, _ = interactions_load()
    data = training_data_build(interactions=interactions, catalog=catalog_load())
    expected = data.features(feature_set="semantic")
    size = int(data.parts[0].lists.group_sizes[0])
    user = int(data.parts[0].lists.users[0])
    customer_pks = np.unique(list(Event.objects.values_list("customer_id", flat=True)))
    external_id = Customer.objects.get(pk=customer_pks[user]).external_id
    catalog = catalog_load()
    fused = [
        FusedItem(
            product_pk=int(catalog.product_pks[data.parts[0].lists.items[row]]),
            score=float(data.parts[0].lists.fused_scores[row]),
            routes={
                route: float(data.parts[0].lists.route_scores[row, c])
                for c, route in enumerate(ROUTES)
                if data.parts[0].lists.route_scores[row, c] != MISSING_SCORE
            },
        )
        for row in range(size)
    ]

    # when serving computes that customer's features for the same candidates, for a request at the
    # time of that visit, from a snapshot of the events before it
    visit = (T + dt.timedelta(days=2)).timestamp()
    pks, served = serving.serving_features(
        customer_id=external_id,
        fused=fused,
        feature_names=FEATURE_SETS["semantic"],
        snapshot=serving.snapshot_load(as_of=visit),
        clock=visit,
    )

    # then every row is the same vector, in the same order (6 products, 2 already bought); the
    # second cut (each customer's visit at T - 3 - c days) adds twelve lists of its own
    assert size == 4 and (data.windows["rounds"], data.windows["lists"]) == (2, 24)
    assert pks == [item.product_pk for item in fused]
    np.testing.assert_array_equal(served, expected[:size])


def test_no_active_model_falls_back_to_the_fused_order_flagged(shop):
    # given a ranker name with only an inactive version
    store(version=1, artifact=price_model(sign=1.0))

    # when the feed is ranked
    recommendation = feed()

    # then it is the fused (popularity) order, says so, and the fallback is counted
    assert ids(recommendation) == FUSED_ORDER
    assert recommendation.ranker == "fused"
    assert serving.fallbacks == {"missing": 1}


def test_a_corrupt_model_falls_back_to_the_fused_order_flagged(shop, caplog):
    # given an active version whose artifact is not a LightGBM model
    store(version=1, artifact="tree\nnot a model", active=True)

    # when the feed is ranked
    recommendation = feed()

    # then the fused order is served, flagged, logged and counted
    assert ids(recommendation) == FUSED_ORDER
    assert recommendation.ranker == "fused"
    assert serving.fallbacks == {"broken": 1}
    assert "shop@v1 cannot be loaded" in caplog.text


def test_serving_follows_the_active_version(shop):
    # given v1 scoring by price (dearest first) and v2 by minus price (cheapest first)
    v1 = store(version=1, artifact=price_model(sign=1.0))
    v2 = store(version=2, artifact=price_model(sign=-1.0))

    # when v1 is activated, then v2, then v1 again
    ranker_activate(ranker_id=v1.pk, force=True)
    first = feed()
    ranker_activate(ranker_id=v2.pk, force=True)
    second = feed()
    ranker_activate(ranker_id=v1.pk, force=True)
    third = feed()

    # then each feed is ordered by the model active at that moment, and names it
    assert (ids(first), first.ranker) == (["P5", "P4", "P3", "P2", "P1", "P0"], "shop@v1")
    assert (ids(second), second.ranker) == (FUSED_ORDER, "shop@v2")
    assert (ids(third), third.ranker) == (["P5", "P4", "P3", "P2", "P1", "P0"], "shop@v1")
    assert list(RankerModel.objects.filter(is_active=True).values_list("version", flat=True)) == [1]
    assert serving.fallbacks == {}


def test_an_unknown_customer_is_ranked_too(shop):
    store(version=1, artifact=price_model(sign=1.0), active=True)
    recommendation = feed(customer="nobody")
    assert (ids(recommendation), recommendation.ranker) == (["P5", "P4", "P3", "P2", "P1", "P0"], "shop@v1")


def test_an_anonymous_sessions_feed_keeps_the_fused_order(shop):
    # given an active model that reverses the fused order, and a session that viewed a product
    store(version=1, artifact=price_model(sign=1.0), active=True)
    Event.objects.create(event_id="s1-1", session_id="s1", product=shop[5], type="view", timestamp=T)

    # when the session's feed is asked for with the ranked strategy
    recommendation = recommend(
        request=RecRequest(customer_id=None, session_id="s1", k=6, include_purchased=True), strategy=RANKED
    )

    # then no ranker ordered it (a customers' ranker lowered sessions' hit@10, README)
    assert recommendation.ranker is None
    assert ids(recommendation) == FUSED_ORDER
    assert ids(feed(customer="nobody")) == ["P5", "P4", "P3", "P2", "P1", "P0"]


def test_a_strategy_without_ranker_keeps_the_fused_order_unflagged(shop):
    store(version=1, artifact=price_model(sign=1.0), active=True)
    recommendation = recommend(request=RecRequest(customer_id="C0", k=6, include_purchased=True))
    assert recommendation.ranker is None
    assert serving.fallbacks == {}


def test_a_stored_model_brings_its_feature_names_and_topic_basis_to_serving(shop):
    # given a version stored with its feature names and a two-direction basis
    basis = {"mean": [0.0] * 384, "components": [[1.0] + [0.0] * 383, [0.0, 1.0] + [0.0] * 382]}
    ranker = RankerModel.objects.create(
        name="shop",
        version=1,
        feature_set="statistical",
        artifact=price_model(sign=1.0),
        feature_names=list(FEATURE_SETS["statistical"]),
        params={"embedding_basis": basis},
    )
    ranker_activate(ranker_id=ranker.pk, force=True)

    # when serving loads it
    loaded = serving.active_ranker(name="shop")

    # then the columns and the directions are the stored ones
    assert loaded.feature_names == FEATURE_SETS["statistical"]
    assert loaded.basis.components.shape == (2, 384) and loaded.basis.components[1, 1] == 1.0
