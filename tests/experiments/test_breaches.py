"""Guardrail enforcement on the real database: a breach is recorded, and pauses when asked to."""

from __future__ import annotations

import datetime as dt

import pytest

from experiments import serving
from experiments.breaches import experiment_guardrails_enforce, experiments_guardrails_enforce
from experiments.models import Experiment, Status
from experiments.snapshots import experiments_snapshots_refresh
from tests.experiments.traffic import experiment_with_conversion_harm

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 3, 8, 9, 0, tzinfo=dt.UTC)
NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)


def refresh() -> dict:
    """What the beat task does: snapshots, then guardrails."""
    experiments_snapshots_refresh(now=NOW)
    return experiments_guardrails_enforce(now=NOW)


def test_a_breach_pauses_an_experiment_that_stops_on_breach_and_serving_drops_it():
    # given a running experiment whose treatment converts far less, stop on breach on
    experiment = experiment_with_conversion_harm(start=START, stop=True)
    assert "home_feed" in serving.running_experiments()
    # when the snapshots refresh
    records = refresh()
    # then the experiment is paused, the breach recorded with its numbers, and no longer served
    experiment.refresh_from_db()
    assert experiment.status == Status.PAUSED
    breach = experiment.guardrail_breach
    assert records == {"feed-guarded": breach}
    assert (breach["paused"], breach["as_of"], breach["detected_at"]) == (True, "2026-03-10", NOW.isoformat())
    conversion = next(b for b in breach["breaches"] if b["metric"] == "conversion_rate")
    assert conversion["variant"] == "treatment"
    assert conversion["treatment"] < conversion["control"]
    assert conversion["effect"] < 0 and conversion["ci"][1] < 0 and conversion["p_value"] <= 0.05
    assert serving.experiment_assign(placement="home_feed", customer_id="T00001") is None
    # and a second refresh changes nothing
    assert refresh() == {}
    experiment.refresh_from_db()
    assert (experiment.status, experiment.guardrail_breach) == (Status.PAUSED, breach)


def test_without_stop_on_breach_the_breach_is_recorded_once_and_the_experiment_keeps_running():
    experiment = experiment_with_conversion_harm(start=START, stop=False)
    first = refresh()
    experiment.refresh_from_db()
    assert experiment.status == Status.RUNNING
    assert first["feed-guarded"]["paused"] is False
    assert {b["metric"] for b in experiment.guardrail_breach["breaches"]} >= {"conversion_rate"}
    # the next refresh keeps the first record
    assert refresh() == {}
    assert Experiment.objects.get(pk=experiment.pk).guardrail_breach == first["feed-guarded"]


def test_equal_arms_breach_nothing():
    experiment = experiment_with_conversion_harm(start=START, stop=True, purchase={"control": 0.06, "treatment": 0.06})
    assert refresh() == {}
    experiment.refresh_from_db()
    assert (experiment.status, experiment.guardrail_breach) == (Status.RUNNING, None)


def test_a_paused_experiment_is_not_checked():
    experiment = experiment_with_conversion_harm(start=START, stop=True)
    experiments_snapshots_refresh(now=NOW)
    Experiment.objects.filter(pk=experiment.pk).update(status=Status.PAUSED)
    assert experiment_guardrails_enforce(experiment_id=experiment.pk, now=NOW) is None
    assert Experiment.objects.get(pk=experiment.pk).guardrail_breach is None
