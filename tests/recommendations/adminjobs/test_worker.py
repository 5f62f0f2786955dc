"""Admin jobs through a real Celery worker process, real Redis and the test database: the page
answers before the work runs, the worker's result is what the page then shows, and a job over
its time limit is stopped and shown as timed out."""

from __future__ import annotations

import time

import pytest
from django.urls import reverse

from recommendations.adminjobs.models import AdminJob, JobState
from tests.processes import celery_worker
from tests.recommendations.reasons_fixtures import ChatServer, default_templates, make_shop

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

RESULT_TIMEOUT_S = 120


def finished(client, job_page: str, *, log) -> str:
    """The job page once the job has ended (the status the page's script polls says so)."""
    job_id = job_page.rsplit("job=", 1)[1]
    status_url = reverse("admin:recommendations_adminjob_status", args=[job_id])
    deadline = time.monotonic() + RESULT_TIMEOUT_S
    while not client.get(status_url).json()["finished"]:
        if time.monotonic() > deadline:
            pytest.fail(f"the job did not finish\n{log.read_text(errors='replace')}")
        time.sleep(0.3)
    return client.get(job_page).content.decode()


def test_the_pages_answer_at_once_and_show_what_the_worker_computed(admin_client, job_queue, redis_url, tmp_path):
    # given a shop with a served list to replay, and no worker yet
    make_shop()
    template = default_templates()["reason"]
    admin_client.get("/admin/")  # a session exists before the pages are used
    preview_url = reverse("admin:reasons_template_preview", args=[template.pk])

    # when the prompt preview and a dry run are submitted
    submitted = admin_client.post(preview_url, {"customer": "alice", "product": "teapot", "backend": "grounded"})
    dry_run = admin_client.post(
        reverse("admin:recommendations_merchrule_dryrun"),
        {"name": "bury acme", "kind": "bury", "is_active": "on", "target_brand": "Acme", "multiplier": "0.5"},
    )

    # then each answers at once with the job's page, which waits for a worker: nothing ran inline
    assert submitted.status_code == dry_run.status_code == 302
    waiting = admin_client.get(submitted["Location"]).content.decode()
    assert "Waiting for a worker" in waiting and 'class="output"' not in waiting
    assert set(AdminJob.objects.values_list("state", flat=True)) == {JobState.QUEUED}

    # when a worker runs
    log = tmp_path / "worker.log"
    with celery_worker(queue=job_queue, redis_url=redis_url, log=log):
        preview_page = finished(admin_client, submitted["Location"], log=log)
        dry_run_page = finished(admin_client, dry_run["Location"], log=log)

    # then the pages show what it computed
    assert 'class="output">Because you bought White Mug<' in preview_page
    assert "Finished on a worker in" in preview_page
    assert 'id="dry-run-summary"' in dry_run_page and "No lists have been served" in dry_run_page
    assert set(AdminJob.objects.values_list("state", flat=True)) == {JobState.DONE}


def test_a_job_over_its_time_limit_is_stopped_and_shown_as_timed_out(
    admin_client, job_queue, redis_url, tmp_path, settings
):
    # given a model endpoint that takes 30 s, a one-second limit, and a worker whose pool enforces limits
    make_shop()
    template = default_templates()["reason"]
    settings.ADMIN_JOB_TIME_LIMIT_S = 1
    log = tmp_path / "worker.log"
    with ChatServer(lambda prompt: (200, "Too late."), delay_s=30) as server:
        env = {
            "REASON_OPENAI_URL": server.url,
            "REASON_OPENAI_MODEL": "tiny-chat",
            "REASON_OPENAI_TIMEOUT": "3",
            "REASON_OPENAI_RETRIES": "0",
        }
        with celery_worker(queue=job_queue, redis_url=redis_url, log=log, extra_env=env, pool="prefork"):
            # when the model preview is asked for
            started = time.monotonic()
            submitted = admin_client.post(
                reverse("admin:reasons_template_preview", args=[template.pk]),
                {"customer": "alice", "product": "teapot", "backend": "openai"},
            )
            answered_s = time.monotonic() - started
            page = finished(admin_client, submitted["Location"], log=log)

    # then the page answered before the model did, and now says the job was stopped at its limit
    assert submitted.status_code == 302 and answered_s < 30
    assert "Stopped: this did not finish within its time limit of 1 s." in page, (
        AdminJob.objects.values("state", "error").get(),
        log.read_text(errors="replace")[-2500:],
    )
    assert 'class="output"' not in page
    assert AdminJob.objects.get().state == JobState.TIMED_OUT
