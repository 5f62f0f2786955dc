"""Admin jobs without a worker: the per-user limit, who may read a job, where a job stands by the
clock, and a run's end states (the work runs here, in this process)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from recommendations.adminjobs.models import AdminJob, JobKind, JobState
from recommendations.adminjobs.service import (
    JobLimitReached,
    JobNotFound,
    job_create,
    job_read,
    job_run,
    job_status,
)
from recommendations.reasons.templates import template_create

pytestmark = pytest.mark.django_db

LIMITS = {"time_limit_s": 60, "queue_wait_s": 120}


def _job(user, *, state: str = JobState.QUEUED, **fields) -> AdminJob:
    return AdminJob.objects.create(user=user, kind=JobKind.RULE_DRY_RUN, params={}, state=state, **LIMITS, **fields)


def test_a_fourth_unfinished_job_is_refused_and_finished_or_stale_ones_do_not_count(admin_user):
    # given three unfinished jobs, a finished one, and one that no worker took in time
    for _ in range(3):
        _job(admin_user)
    _job(admin_user, state=JobState.DONE)
    stale = _job(admin_user)
    AdminJob.objects.filter(pk=stale.pk).update(created_at=timezone.now() - dt.timedelta(hours=1))

    # when a fourth is asked for, then it is refused in words
    with pytest.raises(JobLimitReached, match=r"You have 3 jobs running \(at most 3 at a time\)"):
        job_create(user_id=admin_user.pk, kind=JobKind.RULE_DRY_RUN, params={}, per_user=3, **LIMITS)
    # and with a higher limit it is queued
    job = job_create(user_id=admin_user.pk, kind=JobKind.RULE_DRY_RUN, params={}, per_user=4, **LIMITS)
    assert job.state == JobState.QUEUED


def test_the_pages_refuse_a_fourth_job_with_a_message(admin_client, admin_user, settings):
    # given three unfinished jobs of this user
    settings.ADMIN_JOBS_PER_USER = 3
    for _ in range(3):
        _job(admin_user)
    template = template_create(name="why", body="Because {{ product.title }}.", grounded="")

    # when each page is submitted
    preview = admin_client.post(reverse("admin:recommendations_preview"), {"customer": "alice", "k": 3})
    prompt = admin_client.post(
        reverse("admin:reasons_template_preview", args=[template.pk]), {"customer": "alice", "product": "mug"}
    )
    dry_run = admin_client.post(
        reverse("admin:recommendations_merchrule_dryrun"),
        {"name": "bury", "kind": "bury", "is_active": "on", "target_brand": "Acme", "multiplier": "0.5"},
    )

    # then each answers 429 with the message, and nothing more was queued
    for answer in (preview, prompt, dry_run):
        assert answer.status_code == 429
        assert "You have 3 jobs running (at most 3 at a time)" in answer.content.decode()
    assert AdminJob.objects.count() == 3


def test_only_its_user_or_a_superuser_reads_a_job(admin_user, django_user_model, client):
    # given a staff user's job, and another who may use the same page
    alice = django_user_model.objects.create_user("alice", password="pw-alice-1", is_staff=True)
    bob = django_user_model.objects.create_user("bob", password="pw-bob-1", is_staff=True)
    for user in (alice, bob):
        user.groups.add(Group.objects.get(name="Merchandisers"))
    job = AdminJob.objects.create(user=alice, kind=JobKind.PLACEMENT_PREVIEW, params={}, **LIMITS)

    # then alice and the superuser read it, bob does not
    assert job_read(job_id=job.pk, user=alice) == job
    assert job_read(job_id=str(job.pk), user=admin_user) == job
    with pytest.raises(JobNotFound):
        job_read(job_id=job.pk, user=bob)
    with pytest.raises(JobNotFound):
        job_read(job_id="not-a-uuid", user=alice)
    # and through the pages: bob gets 404 from the page and the status the page polls
    client.force_login(bob)
    assert client.get(reverse("admin:recommendations_preview"), {"job": job.pk}).status_code == 404
    assert client.get(reverse("admin:recommendations_adminjob_status", args=[job.pk])).status_code == 404
    client.force_login(alice)
    assert client.get(reverse("admin:recommendations_adminjob_status", args=[job.pk])).json()["state"] == "queued"
    # and a job of another kind is not shown on this page
    assert client.get(reverse("admin:recommendations_merchrule_dryrun"), {"job": job.pk}).status_code == 404


def test_where_a_job_stands_by_its_row_and_the_clock(admin_user):
    now = timezone.now()
    queued = _job(admin_user)
    running = _job(admin_user, state=JobState.RUNNING, started_at=now)

    assert job_status(queued, now=now).finished is False
    # no worker took it within its queue wait: dropped, said so
    late = job_status(queued, now=now + dt.timedelta(seconds=LIMITS["queue_wait_s"] + 60))
    assert (late.state, late.finished) == (JobState.TIMED_OUT, True)
    assert "No worker started this within 120 s" in late.message
    assert job_status(running, now=now + dt.timedelta(seconds=30)).message.startswith("Running on a worker for 30 s")
    # killed at its hard limit (it could not write its row): timed out by the clock
    killed = job_status(running, now=now + dt.timedelta(seconds=LIMITS["time_limit_s"] + 60))
    assert (killed.state, killed.finished) == (JobState.TIMED_OUT, True)
    assert "did not finish within its time limit of 60 s" in killed.message


def test_a_run_stores_its_result_its_timeout_or_its_failure(admin_user):
    def timed_out(params):
        raise SoftTimeLimitExceeded()

    def broken(params):
        raise RuntimeError("disk on fire")

    jobs = {name: _job(admin_user) for name in ("done", "timed_out", "failed")}
    runners = {JobKind.RULE_DRY_RUN: lambda params: {"answer": 42}}

    assert job_run(job_id=str(jobs["done"].pk), runners=runners) == JobState.DONE
    assert job_run(job_id=str(jobs["timed_out"].pk), runners={JobKind.RULE_DRY_RUN: timed_out}) == JobState.TIMED_OUT
    assert job_run(job_id=str(jobs["failed"].pk), runners={JobKind.RULE_DRY_RUN: broken}) == JobState.FAILED
    # a second delivery of a finished job runs nothing
    assert job_run(job_id=str(jobs["done"].pk), runners={JobKind.RULE_DRY_RUN: broken}) == JobState.DONE

    for job in jobs.values():
        job.refresh_from_db()
    assert jobs["done"].result == {"answer": 42}
    assert "time limit of 60 s" in job_status(jobs["timed_out"]).message
    assert job_status(jobs["failed"]).message == "The job failed: RuntimeError: disk on fire"
    assert job_run(job_id=str(uuid.uuid4()), runners=runners) == ""
