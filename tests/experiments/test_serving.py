"""Assignment on the request path (no writes, cached snapshot) and the deferred exposure log."""

from __future__ import annotations

import math
import uuid
from collections import Counter

import pytest

from experiments import serving
from experiments.assignment import assign, layer_unit
from experiments.models import Exposure, Layer
from experiments.services import experiment_pause
from recsite import after_response
from tests.factories import make_experiment

pytestmark = pytest.mark.django_db


def test_assign_matches_the_pure_hash_and_writes_nothing(django_assert_num_queries):
    # given a running 50/50 experiment, its snapshot loaded
    experiment = make_experiment(key="feed", traffic_share=1.0)
    serving.running_experiments()
    # when 50 customers are assigned
    with django_assert_num_queries(0):
        assigned = [serving.experiment_assign(placement="home_feed", customer_id=f"C{i}") for i in range(50)]
    # then each variant is the pure function's answer and the strategy is the variant's
    expected = [
        assign(
            experiment_key="feed",
            salt="salt",
            customer_id=f"C{i}",
            traffic_share=1.0,
            weights=[("control", 1.0), ("treatment", 1.0)],
        )
        for i in range(50)
    ]
    assert [a.variant_key for a in assigned] == expected
    assert {a.experiment_id for a in assigned} == {experiment.pk}
    control = next(a for a in assigned if a.variant_key == "control")
    assert control.strategy.routes == {"popularity": 1.0}


def test_no_assignment_without_customer_experiment_or_traffic():
    make_experiment(key="feed", traffic_share=0.5)
    # Its slice of the home feed's layer is [0, 0.5): a customer placed above it is outside.
    outside = next(f"C{i}" for i in range(100) if layer_unit(layer="home_feed", customer_id=f"C{i}") >= 0.5)
    assert serving.experiment_assign(placement="home_feed", customer_id=None) is None
    assert serving.experiment_assign(placement="search", customer_id="C1") is None
    assert serving.experiment_assign(placement="home_feed", customer_id=outside) is None


def test_snapshot_is_reused_within_its_lifetime_and_forgotten_on_pause(django_assert_num_queries):
    # given a running experiment seen once
    experiment = make_experiment(key="feed")
    assert serving.experiment_assign(placement="home_feed", customer_id="C1") is not None
    # when asked again: no query; after a pause in this process: none assigned
    with django_assert_num_queries(0):
        serving.experiment_assign(placement="home_feed", customer_id="C2")
    experiment_pause(experiment_id=experiment.pk)
    assert serving.experiment_assign(placement="home_feed", customer_id="C1") is None


def test_exposure_outside_a_request_is_written_at_once():
    make_experiment(key="feed")
    assignment = serving.experiment_assign(placement="home_feed", customer_id="C1")
    rec_id = uuid.uuid4()
    serving.exposure_log(
        assignment=assignment,
        recommendation_id=rec_id,
        customer_id="C1",
        placement="home_feed",
        product_ids=["P1", "P2"],
    )
    exposure = Exposure.objects.get(recommendation_id=rec_id)
    assert exposure.items == [{"id": "P1", "position": 1}, {"id": "P2", "position": 2}]
    assert (exposure.variant_id, exposure.customer_external_id) == (assignment.variant_id, "C1")


def test_exposures_in_a_request_wait_for_its_end_and_go_in_one_insert(django_assert_num_queries):
    # given a request in progress (the request_started receiver ran) serving three lists
    make_experiment(key="feed")
    assignment = serving.experiment_assign(placement="home_feed", customer_id="C1")
    after_response.collect()
    ids = [uuid.uuid4() for _ in range(3)]
    for rec_id in ids:
        serving.exposure_log(
            assignment=assignment, recommendation_id=rec_id, customer_id="C1", placement="home_feed", product_ids=["P1"]
        )
    # then nothing is written until the request finishes, and then in one INSERT
    assert Exposure.objects.count() == 0
    with django_assert_num_queries(1):
        after_response.flush()
    assert set(Exposure.objects.values_list("recommendation_id", flat=True)) == set(ids)


def test_layers_never_put_a_customer_in_two_experiments_and_keep_the_holdout_out():
    # given one layer shared by two placements, with a 20% holdout: two home-feed experiments and one on search
    Layer.objects.create(key="shop", holdout_share=0.2)
    make_experiment(key="feed-a", traffic_share=0.4, layer="shop")
    make_experiment(key="feed-b", traffic_share=0.3, layer="shop")
    make_experiment(key="search-a", traffic_share=0.3, placement="search", layer="shop")
    customers = [f"C{i}" for i in range(6000)]

    # when every customer asks both placements
    seen: dict[str, set[str]] = {c: set() for c in customers}
    for placement in ("home_feed", "search"):
        for customer in customers:
            assignment = serving.experiment_assign(placement=placement, customer_id=customer)
            if assignment is not None:
                seen[customer].add(assignment.experiment_key)

    # then nobody is in two experiments, and each experiment and the holdout get their share
    assert max(len(keys) for keys in seen.values()) == 1
    counts = Counter(next(iter(keys), "holdout") for keys in seen.values())
    expected = {"holdout": 0.2, "feed-a": 0.4 * 0.8, "feed-b": 0.3 * 0.8, "search-a": 0.3 * 0.8}
    for name, share in expected.items():
        sigma = math.sqrt(len(customers) * share * (1 - share))
        assert abs(counts[name] - share * len(customers)) < 4 * sigma, (name, counts[name])
