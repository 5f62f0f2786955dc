"""Admin jobs: create one (at most ADMIN_JOBS_PER_USER unfinished per user), run it on a worker
within its time limit, read it back (its user or a superuser only) and say where it stands.

The job's row, not Celery's result backend, holds its state and result: the page reads one row by
id and user, a hard-killed task or one no worker took is told apart by the clock, and no result
outlives the row.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.db import connection, transaction
from django.utils import timezone

from recommendations.adminjobs.models import AdminJob, JobState

logger = logging.getLogger(__name__)

UNFINISHED = (JobState.QUEUED, JobState.RUNNING)
# The hard limit (the worker kills the task) comes this long after the soft one (the task stops
# itself and says so).
HARD_LIMIT_EXTRA_S = 10
# A killed task cannot write its row: this long past its hard limit (or its queue wait), a page
# calls it timed out.
GRACE_S = 5
# pg_advisory_xact_lock's first key: this module's lock space (any constant of its own).
LOCK_SPACE = 0x61646A62


class JobLimitReached(Exception):
    """The user has as many unfinished jobs as allowed; the message says so in words."""


class JobNotFound(Exception):
    """No such job for this user (another user's job is not found either)."""


def job_create(
    *, user_id: int, kind: str, params: dict[str, Any], time_limit_s: int, queue_wait_s: int, per_user: int
) -> AdminJob:
    """A queued job, unless the user already has `per_user` unfinished ones (JobLimitReached).

    The count and the insert run under a per-user lock, so two clicks at once cannot both pass."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_SPACE, user_id % 2**31])
        unfinished = [
            job
            for job in AdminJob.objects.filter(user_id=user_id, state__in=UNFINISHED)
            if not job_status(job).finished
        ]
        if len(unfinished) >= per_user:
            raise JobLimitReached(
                f"You have {len(unfinished)} jobs running (at most {per_user} at a time): "
                "wait for one to finish, then try again."
            )
        return AdminJob.objects.create(
            user_id=user_id, kind=kind, params=params, time_limit_s=time_limit_s, queue_wait_s=queue_wait_s
        )


def job_fail(*, job_id: Any, error: str) -> None:
    AdminJob.objects.filter(pk=job_id).update(state=JobState.FAILED, error=error, finished_at=timezone.now())


def job_run(*, job_id: str, runners: dict[str, Callable[[dict[str, Any]], dict[str, Any]]]) -> str:
    """Run a queued job's work (`runners[kind](params)` → a JSON-able result) and store how it
    ended; returns the final state. A job not queued (delivered twice, or already failed) is left
    alone."""
    now = timezone.now()
    started = AdminJob.objects.filter(pk=job_id, state=JobState.QUEUED).update(state=JobState.RUNNING, started_at=now)
    if not started:
        return AdminJob.objects.filter(pk=job_id).values_list("state", flat=True).first() or ""
    job = AdminJob.objects.get(pk=job_id)
    try:
        result = runners[job.kind](job.params)
    except SoftTimeLimitExceeded:
        _connection_reset()
        AdminJob.objects.filter(pk=job_id).update(
            state=JobState.TIMED_OUT, error=timeout_message(job), finished_at=timezone.now()
        )
        return JobState.TIMED_OUT
    except Exception as exc:
        logger.exception("admin job %s (%s) failed", job_id, job.kind)
        _connection_reset()
        job_fail(job_id=job_id, error=f"{type(exc).__name__}: {exc}")
        return JobState.FAILED
    AdminJob.objects.filter(pk=job_id).update(state=JobState.DONE, result=result, finished_at=timezone.now())
    return JobState.DONE


def _connection_reset() -> None:
    """The limit or the error may have struck inside a query: the connection's state is unknown,
    so the worker's is closed (the next query opens a new one); never one inside a caller's
    transaction."""
    if not connection.in_atomic_block:
        connection.close()


def job_read(*, job_id: Any, user: Any) -> AdminJob:
    """The job, for the user who submitted it or a superuser; JobNotFound otherwise."""
    try:
        key = uuid.UUID(str(job_id))
    except ValueError as exc:
        raise JobNotFound(job_id) from exc
    job = AdminJob.objects.filter(pk=key).first()
    if job is None or not (job.user_id == user.pk or user.is_superuser):
        raise JobNotFound(job_id)
    return job


@dataclass(frozen=True)
class JobStatus:
    state: str
    finished: bool
    message: str


def job_status(job: AdminJob, *, now: dt.datetime | None = None) -> JobStatus:
    """Where the job stands, in words, by its row and the clock."""
    now = now or timezone.now()
    if job.state == JobState.QUEUED:
        waited = (now - job.created_at).total_seconds()
        if waited > job.queue_wait_s + GRACE_S:
            return JobStatus(
                JobState.TIMED_OUT,
                True,
                f"No worker started this within {job.queue_wait_s} s, so it was dropped: "
                "the workers may be busy or stopped. Try again later.",
            )
        return JobStatus(JobState.QUEUED, False, f"Waiting for a worker ({waited:.0f} s so far)…")
    if job.state == JobState.RUNNING:
        running = (now - (job.started_at or job.created_at)).total_seconds()
        if running > job.time_limit_s + HARD_LIMIT_EXTRA_S + GRACE_S:
            return JobStatus(JobState.TIMED_OUT, True, timeout_message(job))
        return JobStatus(
            JobState.RUNNING, False, f"Running on a worker for {running:.0f} s (stopped at {job.time_limit_s} s)…"
        )
    if job.state == JobState.DONE:
        took = (job.finished_at - (job.started_at or job.created_at)).total_seconds() if job.finished_at else 0.0
        return JobStatus(JobState.DONE, True, f"Finished on a worker in {took:.1f} s.")
    if job.state == JobState.TIMED_OUT:
        return JobStatus(JobState.TIMED_OUT, True, job.error or timeout_message(job))
    return JobStatus(JobState.FAILED, True, f"The job failed: {job.error}")


def timeout_message(job: AdminJob) -> str:
    return (
        f"Stopped: this did not finish within its time limit of {job.time_limit_s} s. "
        "Ask for less (fewer customers or products), or a faster backend."
    )
