"""A model preview in headless Chromium with a real worker: the page shows the job running (it
polls), then reloads itself with the result. Screenshots of both states in var/screenshots/."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.browser import BROWSER_TEST, admin_login, screenshot
from tests.processes import celery_worker
from tests.recommendations.reasons_fixtures import ChatServer, default_templates, make_shop
from tests.recsite.test_csp_browser import RECORD_VIOLATIONS

pytestmark = [*BROWSER_TEST, pytest.mark.slow]

WAIT_MS = 90_000


def test_the_preview_shows_its_job_running_then_the_result(
    page, live_server, django_user_model, job_queue, redis_url, tmp_path
):
    # given a shop, a model endpoint that takes 4 s, and a worker
    make_shop()
    template = default_templates()["reason"]
    page.add_init_script(RECORD_VIOLATIONS)
    admin_login(page, live_server, django_user_model)
    with ChatServer(lambda prompt: (200, "A teapot to pour for your white mug."), delay_s=4) as server:
        env = {"REASON_OPENAI_URL": server.url, "REASON_OPENAI_MODEL": "tiny-chat"}
        with celery_worker(queue=job_queue, redis_url=redis_url, log=tmp_path / "worker.log", extra_env=env):
            # when the model preview is submitted
            page.goto(f"{live_server.url}{reverse('admin:reasons_template_preview', args=[template.pk])}")
            page.fill("input[name=customer]", "alice")
            page.fill("input[name=product]", "teapot")
            page.select_option("select[name=backend]", "openai")
            page.click("#preview-submit")
            # then the page answers at once and follows the job while the worker runs it
            page.wait_for_selector("text=Running on a worker", timeout=WAIT_MS)
            screenshot(page, "admin_job_running.png")
            assert page.locator("td.output").count() == 0
            assert page.evaluate("window.__cspViolations") == []  # the polling script is allowed
            # and shows the result when it is ready
            page.wait_for_selector("td.output", timeout=WAIT_MS)
            screenshot(page, "admin_job_done.png")
    assert page.inner_text("td.output") == "A teapot to pour for your white mug."
    assert "Finished on a worker in" in page.inner_text("#admin-job")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1400
    assert page.evaluate("window.__cspViolations") == []
