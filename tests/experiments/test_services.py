"""Experiment lifecycle services and the rules that protect a running split."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from experiments.models import Experiment, Status
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


def test_only_one_experiment_runs_per_placement():
    # given a running home-feed experiment
    make_experiment(key="first")
    second = make_experiment(key="second", launch=False)
    # when another one on the same placement is launched
    with pytest.raises(ExperimentError, match="'first' is already running on home feed"):
        experiment_launch(experiment_id=second.pk)
    # then it stays a draft, and one on another placement may run
    assert Experiment.objects.get(pk=second.pk).status == Status.DRAFT
    assert make_experiment(key="third", placement="search").status == Status.RUNNING


def test_database_refuses_a_second_running_experiment_on_a_placement():
    # given a running experiment; when a write bypasses the services
    make_experiment(key="first")
    with pytest.raises(IntegrityError), transaction.atomic():
        ExperimentFactory(key="sneaky", status=Status.RUNNING)


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
