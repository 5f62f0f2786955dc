"""Celery tasks of experiments: thin wrappers around services."""

from __future__ import annotations

from experiments.breaches import experiments_guardrails_enforce
from experiments.snapshots import experiments_snapshots_refresh
from recsite.tasks import transient_task


@transient_task(acks_late=True, ignore_result=True)
def build_experiment_snapshots() -> dict[str, int]:
    """Daily per-variant snapshots of every experiment collecting data (idempotent: rows are keyed
    by variant and day and rewritten whole), then the guardrails of the running ones on the fresh
    snapshots (a breach marks an experiment, and pauses it when it asks for that)."""
    computed = experiments_snapshots_refresh()
    experiments_guardrails_enforce()
    return computed
