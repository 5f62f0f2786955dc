"""Experiment lifecycle services and the rules that protect a running split."""

from __future__ import annotations

import pytest

from experiments.models import Experiment, Layer, Status
from experiments.services import (
    WEIGHTS_FROZEN,
    ExperimentError,
    experiment_complete,
    experiment_launch,
    experiment_pause,
    variant_update,
)
from tests.factories import ExperimentFactory, VariantFactory, make_experiment

pytestmark = pytest.mark.django_db


def test_launch_pause_resume_complete():
    # given a draft experiment with two valid variants
    experiment = make_experiment(launch=False)
    # when launched
    launched = experiment_launch(experiment_id=experiment.pk)
    started_at = launched.started_at
    # then it runs from now; pausing and resuming keeps the first start time
    assert launched.status == Status.RUNNING and started_at is not None
    assert experiment_pause(experiment_id=experiment.pk).status == Status.PAUSED
    assert experiment_launch(experiment_id=experiment.pk).started_at == started_at
    completed = experiment_complete(experiment_id=experiment.pk)
    assert completed.status == Status.COMPLETED and completed.stopped_at is not None
    # and a completed experiment cannot run again
    with pytest.raises(ExperimentError, match="Only a draft or paused experiment can be launched"):
        experiment_launch(experiment_id=experiment.pk)


def test_a_full_layer_refuses_another_experiment_on_its_placement():
    # given a running home-feed experiment taking all of its layer's traffic
    make_experiment(key="first")
    second = make_experiment(key="second", launch=False)
    # when another one on the same placement is launched
    with pytest.raises(ExperimentError, match="Layer 'home_feed' has 0% of its traffic free"):
        experiment_launch(experiment_id=second.pk)
    # then it stays a draft
    assert Experiment.objects.get(pk=second.pk).status == Status.DRAFT


def test_each_placement_has_its_own_layer_by_default():
    feed = make_experiment(key="feed")
    search = make_experiment(key="search", placement="search")

    assert (feed.layer_key, search.layer_key) == ("home_feed", "search")
    assert (feed.layer_start, feed.layer_end) == (search.layer_start, search.layer_end) == (0.0, 1.0)


def test_experiments_of_one_layer_take_disjoint_slices_and_a_resume_keeps_its_slice():
    first = make_experiment(key="first", traffic_share=0.5, layer="shop")
    second = make_experiment(key="second", traffic_share=0.3, placement="search", layer="shop")
    third = make_experiment(key="third", traffic_share=0.3, launch=False, layer="shop")

    assert (first.layer_start, first.layer_end) == (0.0, 0.5)
    assert (second.layer_start, second.layer_end) == pytest.approx((0.5, 0.8))
    with pytest.raises(ExperimentError, match="has 20% of its traffic free"):
        experiment_launch(experiment_id=third.pk)
    experiment_pause(experiment_id=first.pk)
    resumed = experiment_launch(experiment_id=first.pk)
    assert (resumed.layer_start, resumed.layer_end) == (0.0, 0.5)
    experiment_complete(experiment_id=first.pk)
    assert experiment_launch(experiment_id=third.pk).layer_start == 0.0  # the freed slice


def test_a_holdout_is_kept_out_of_every_slice():
    Layer.objects.create(key="ranking", holdout_share=0.1)

    launched = make_experiment(key="ranked", layer="ranking", traffic_share=0.5)

    assert (launched.layer_start, launched.layer_end) == pytest.approx((0.1, 0.55))


def test_one_placement_keeps_its_experiments_in_one_layer():
    make_experiment(key="first", traffic_share=0.5)
    other_layer = make_experiment(key="second", traffic_share=0.5, layer="reasons", launch=False)

    with pytest.raises(ExperimentError, match="'first' on home feed is in layer 'home_feed'"):
        experiment_launch(experiment_id=other_layer.pk)
    assert make_experiment(key="third", placement="search", layer="reasons").status == Status.RUNNING


def test_an_experiment_launched_before_layers_blocks_new_ones_in_its_layer_until_complete():
    legacy = make_experiment(key="legacy", traffic_share=0.5)
    Experiment.objects.filter(pk=legacy.pk).update(layer_start=None, layer_end=None)
    newer = make_experiment(key="newer", traffic_share=0.3, launch=False)

    with pytest.raises(ExperimentError, match="'legacy' in layer 'home_feed' was launched before layers"):
        experiment_launch(experiment_id=newer.pk)


@pytest.mark.parametrize(
    ("variants", "message"),
    [
        ([("a", True, {"routes": {"popularity": 1}})], "at least two variants"),
        ([("a", False, {"routes": {"popularity": 1}}), ("b", False, {"routes": {"itemcf": 1}})], "Exactly one"),
        ([("a", True, {"routes": {"popularity": 1}}), ("b", False, {"routes": {"nope": 1}})], "Variant 'b': unknown"),
    ],
)
def test_launch_refuses_an_unservable_experiment(variants, message):
    experiment = ExperimentFactory()
    for key, is_control, config in variants:
        VariantFactory(experiment=experiment, key=key, is_control=is_control, config=config)
    with pytest.raises(ExperimentError, match=message):
        experiment_launch(experiment_id=experiment.pk)
    assert Experiment.objects.get(pk=experiment.pk).status == Status.DRAFT


def test_weight_change_is_refused_once_launched_and_allowed_in_a_draft():
    # given a draft and a running experiment
    draft = make_experiment(key="draft", placement="search", launch=False)
    running = make_experiment(key="running")
    # when their treatment weights change
    draft_treatment = draft.variants.get(key="treatment")
    assert variant_update(variant_id=draft_treatment.pk, weight=3.0).weight == 3.0
    treatment = running.variants.get(key="treatment")
    with pytest.raises(ExperimentError) as refused:
        variant_update(variant_id=treatment.pk, weight=3.0)
    # then the running one is refused with the reason and keeps its weight
    assert str(refused.value) == WEIGHTS_FROZEN
    assert "break the sample ratio" in WEIGHTS_FROZEN
    treatment.refresh_from_db()
    assert treatment.weight == 1.0


def test_config_update_is_validated():
    experiment = make_experiment()
    treatment = experiment.variants.get(key="treatment")
    with pytest.raises(ExperimentError, match="Variant 'treatment': unknown route 'x'"):
        variant_update(variant_id=treatment.pk, config={"routes": {"x": 1}})
    updated = variant_update(variant_id=treatment.pk, config={"routes": {"itemcf": 1}, "k": 5})
    assert updated.config == {"routes": {"itemcf": 1}, "k": 5}


def test_a_variant_naming_a_ranker_launches_only_when_that_ranker_is_active():
    # given a treatment asking for the learned ranker "semantic"
    from recommendations.models import RankerModel

    experiment = make_experiment(launch=False)
    treatment = experiment.variants.get(key="treatment")
    treatment.config = {"routes": {"itemcf": 1}, "ranker": "semantic"}
    treatment.save()
    # when launched before any such ranker is active: refused, naming what is missing
    with pytest.raises(ExperimentError, match="Variant 'treatment': no active ranker named 'semantic'"):
        experiment_launch(experiment_id=experiment.pk)
    # then, once a version is active, it launches
    RankerModel.objects.create(name="semantic", version=1, feature_set="semantic", artifact="", is_active=True)
    assert experiment_launch(experiment_id=experiment.pk).status == Status.RUNNING
