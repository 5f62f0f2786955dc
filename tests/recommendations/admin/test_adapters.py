"""Reason adapters in the admin: the versions' figures, activation refused with both numbers,
forcing behind its own permission, rollback, the train and check pages as jobs, and malformed
input answered with a message or a 404, never a 500."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission

from recommendations.adminjobs.models import AdminJob, JobKind
from recommendations.reasons.adapters import adapter_activate
from recommendations.reasons.models import AdapterState, ReasonAdapter
from tests.browser import roles_restore
from tests.factories import ReasonAdapterFactory
from tests.recommendations.reasons.adapter_fixtures import repeat_buyers_shop

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/recommendations/reasonadapter/"
TRAIN = "/admin/recommendations/reasonadapter/train/"


@pytest.fixture
def stored(tmp_path):
    (tmp_path / "adapter_config.json").write_text("{}")
    return str(tmp_path)


@pytest.fixture
def operator_client(client, django_user_model):
    """A staff user of the Operators group: may activate and roll back, may not force."""
    roles_restore()
    user = django_user_model.objects.create_user("operator", is_staff=True)
    user.groups.add(Group.objects.get(name="Operators"))
    client.force_login(user)
    return client


def _act(client, action: str, *adapters: ReasonAdapter):
    return client.post(
        CHANGELIST, {"action": action, "_selected_action": [a.pk for a in adapters], "index": 0}, follow=True
    )


def test_the_list_and_a_version_show_the_training_and_the_check(admin_client, stored):
    adapter = ReasonAdapterFactory(path=stored)

    listing = admin_client.get(CHANGELIST).content.decode()
    page = admin_client.get(f"{CHANGELIST}{adapter.pk}/change/").content.decode()

    assert "2.5000 → 1.5000" in listing and "60.0% → 80.0%" in listing
    assert "passed: held-out loss 1.5000 against the base model&#x27;s 2.5000" in page
    assert f"SmolLM2-135M-Instruct+adapter@v{adapter.version}" in page


def test_activating_a_failed_version_is_refused_with_both_numbers(operator_client, stored):
    failed = ReasonAdapterFactory(path=stored, state=AdapterState.FAILED, adapter_pass_rate=0.4)

    messages = [str(m) for m in _act(operator_client, "activate", failed).context["messages"]]

    assert messages == [
        f"reason adapter v{failed.version} is not activated: held-out loss 1.5000 against the base model's 2.5000; "
        "guardrail pass rate 40.0% against the base model's 60.0% (floor 50%)"
    ]
    failed.refresh_from_db()
    assert failed.state == AdapterState.FAILED


def test_forcing_needs_its_own_permission(operator_client, stored, django_user_model):
    failed = ReasonAdapterFactory(path=stored, state=AdapterState.FAILED)

    refused = _act(operator_client, "activate_forced", failed)
    assert [str(m) for m in refused.context["messages"]] == ["No action selected."]
    assert ReasonAdapter.objects.get(pk=failed.pk).state == AdapterState.FAILED

    operator = django_user_model.objects.get(username="operator")
    operator.user_permissions.add(Permission.objects.get(codename="force_activate_reasonadapter"))
    forced = _act(operator_client, "activate_forced", failed)
    assert "Serving v" in str(list(forced.context["messages"])[0])
    failed.refresh_from_db()
    assert (failed.state, failed.activated_by) == (AdapterState.ACTIVE, operator)


def test_activating_two_at_once_or_a_missing_directory_is_a_message(admin_client, stored, tmp_path):
    one, two = ReasonAdapterFactory(path=stored), ReasonAdapterFactory(path=stored)
    missing = ReasonAdapterFactory(path=str(tmp_path / "gone"))

    both = _act(admin_client, "activate", one, two)
    gone = _act(admin_client, "activate_forced", missing)

    assert [str(m) for m in both.context["messages"]] == ["Pick exactly one version: one is served at a time."]
    assert "is missing or holds no adapter" in str(list(gone.context["messages"])[0])
    assert not ReasonAdapter.objects.filter(state=AdapterState.ACTIVE).exists()


def test_rollback_serves_the_version_the_active_one_replaced(operator_client, stored):
    old, new = ReasonAdapterFactory(path=stored), ReasonAdapterFactory(path=stored)
    adapter_activate(adapter_id=old.pk)
    adapter_activate(adapter_id=new.pk)

    not_active = _act(operator_client, "rollback", old)
    rolled = _act(operator_client, "rollback", new)

    assert [str(m) for m in not_active.context["messages"]] == ["Select the active version to roll it back."]
    assert [str(m) for m in rolled.context["messages"]] == [
        f"Retired v{new.version}; serving v{old.version} (SmolLM2-135M-Instruct+adapter@v{old.version})."
    ]
    assert ReasonAdapter.objects.get(state=AdapterState.ACTIVE) == old


@pytest.mark.parametrize("steps", ["abc", "0", "\x00", "99999999999999999999", ""])
def test_malformed_training_input_is_a_message_and_queues_nothing(admin_client, steps):
    response = admin_client.post(TRAIN, {"steps": steps, "limit": ""})

    assert response.status_code == 200
    assert response.context["form"].errors["steps"]
    assert not AdminJob.objects.exists()


def test_the_train_page_and_the_check_page_refuse_what_is_not_their_job(admin_client, stored):
    adapter = ReasonAdapterFactory(path=stored)

    assert admin_client.get(TRAIN).status_code == 200
    assert admin_client.get(TRAIN, {"job": "abc"}).status_code == 404
    assert admin_client.get(f"{CHANGELIST}{adapter.pk}/check/", {"job": "\x00"}).status_code == 404
    assert admin_client.get(f"{CHANGELIST}999999/check/").status_code == 404


def test_the_check_runs_as_a_job_and_its_page_says_why_it_could_not(admin_client, stored, admin_jobs_inline):
    adapter = ReasonAdapterFactory(path=stored)  # an adapter config, but no held-out examples

    response = _act(admin_client, "run_check", adapter)

    job = AdminJob.objects.get()
    assert (job.kind, job.params, job.time_limit_s) == (JobKind.ADAPTER_CHECK, {"adapter_id": adapter.pk}, 3600)
    assert response.redirect_chain[-1][0] == f"{CHANGELIST}{adapter.pk}/check/?job={job.pk}"
    assert f"v{adapter.version} has no held-out examples" in response.content.decode()


def test_a_staff_user_without_the_change_permission_cannot_train(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("viewer", is_staff=True))

    assert client.post(TRAIN, {"steps": "1"}).status_code == 404
    assert not AdminJob.objects.exists()


@pytest.mark.slow
def test_training_from_the_admin_stores_a_version_and_shows_its_check(
    admin_client, settings, tmp_path, admin_jobs_inline
):
    settings.REASON_ADAPTER_DIR = tmp_path
    settings.REASON_DEVICE = "cpu"
    repeat_buyers_shop(customers=3)

    response = admin_client.post(TRAIN, {"steps": "1", "limit": ""}, follow=True)

    adapter = ReasonAdapter.objects.get()
    page = response.content.decode()
    assert AdminJob.objects.get().kind == JobKind.ADAPTER_TRAIN
    assert f"reason adapter v{adapter.version}</a>: the check" in page
    assert f"held-out loss {adapter.adapter_loss:.4f}" in page
