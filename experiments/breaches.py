"""Guardrail enforcement: after the snapshots refresh, each running experiment's guardrails are
checked on its latest snapshot (experiments.guardrails); a breach is recorded on the experiment
and, when it asks for it (`guardrail_stop`), pauses it through the lifecycle service.

Pause, not complete: a paused experiment stops serving at once (the running-experiments snapshot
is forgotten) but keeps its customers' assignments and its evidence, and an operator decides —
look into it and resume (with stop on breach off to overrule the guardrail), or complete it.

Idempotent: only running experiments are checked, so once paused a refresh leaves it alone; an
unstopped breach is recorded once (the first detection) and kept.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone

from experiments import services, serving
from experiments.guardrails import GuardrailCheck, guardrails_check
from experiments.models import Experiment, Kind, Status
from experiments.snapshots import experiment_snapshot_arms


def breach_record(*, checks: list[GuardrailCheck], as_of: dt.date, now: dt.datetime, paused: bool) -> dict[str, Any]:
    """The JSON stored in Experiment.guardrail_breach for these breached checks."""
    return {
        "detected_at": now.isoformat(),
        "as_of": as_of.isoformat(),
        "paused": paused,
        "breaches": [
            {
                "metric": c.metric,
                "variant": c.variant,
                "control": c.comparison.control,
                "treatment": c.comparison.treatment,
                "effect": c.comparison.absolute,
                "relative": c.comparison.relative,
                "ci": list(c.sequential.ci),
                "p_value": c.p_adjusted,
            }
            for c in checks
            if c.comparison is not None and c.sequential is not None
        ],
    }


def experiment_guardrails_enforce(*, experiment_id: int, now: dt.datetime | None = None) -> dict[str, Any] | None:
    """Check one running experiment's guardrails; on a breach record it (and pause the experiment
    when `guardrail_stop`). Returns the record written, or None when nothing changed."""
    experiment = Experiment.objects.get(pk=experiment_id)
    if experiment.status != Status.RUNNING or not experiment.guardrail_metrics:
        return None
    day, arms = experiment_snapshot_arms(experiment_id=experiment_id)
    if day is None or not any(arm.is_control for arm in arms):
        return None
    breached = [c for c in guardrails_check(arms=arms, guardrail_metrics=experiment.guardrail_metrics) if c.breached]
    if not breached:
        return None
    with transaction.atomic():
        # Locked and read again: an operator may have paused it or changed the stop flag meanwhile.
        experiment = Experiment.objects.select_for_update().get(pk=experiment_id)
        if experiment.status != Status.RUNNING:
            return None
        if experiment.guardrail_breach is not None and not experiment.guardrail_stop:
            return None  # already marked, and nothing to stop
        record = breach_record(checks=breached, as_of=day, now=now or timezone.now(), paused=experiment.guardrail_stop)
        Experiment.objects.filter(pk=experiment_id).update(guardrail_breach=record)
        if experiment.guardrail_stop:
            services.experiment_pause(experiment_id=experiment_id)
            # The pause forgot the snapshot before the commit; a request in between may have
            # reloaded the experiment as still running.
            transaction.on_commit(serving.running_experiments_forget)
    return record


def experiments_guardrails_enforce(*, now: dt.datetime | None = None) -> dict[str, dict[str, Any]]:
    """`experiment_guardrails_enforce` for every running experiment with guardrails; key → record written."""
    running = Experiment.objects.filter(status=Status.RUNNING, kind=Kind.AB).exclude(guardrail_metrics=[])
    records = {e.key: experiment_guardrails_enforce(experiment_id=e.pk, now=now) for e in running}
    return {key: record for key, record in records.items() if record is not None}
