"""`train_reason_adapter` and `activate_reason_adapter`: a real run on a tiny shop, and bad input
answered with a command error (nothing stored, never two active)."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from recommendations.reasons.models import AdapterState, ReasonAdapter
from tests.factories import ReasonAdapterFactory
from tests.recommendations.reasons.adapter_fixtures import repeat_buyers_shop

pytestmark = pytest.mark.django_db


def test_training_without_examples_is_a_command_error(settings, tmp_path):
    settings.REASON_ADAPTER_DIR = tmp_path

    with pytest.raises(CommandError, match="0 instruction example"):
        call_command("train_reason_adapter", steps=1)

    assert not ReasonAdapter.objects.exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "options", [{"limit": 1}, {"batch_size": 0}, {"heldout_share": 1.0}, {"heldout_share": 0.0}, {"steps": 0}]
)
def test_bad_options_are_command_errors(options, settings, tmp_path):
    settings.REASON_ADAPTER_DIR = tmp_path
    repeat_buyers_shop(customers=3)

    with pytest.raises(CommandError):
        call_command("train_reason_adapter", **{"steps": 1, **options})

    assert not ReasonAdapter.objects.exists()


@pytest.mark.slow
def test_a_run_trains_checks_stores_and_activates_a_version(settings, tmp_path):
    settings.REASON_ADAPTER_DIR = tmp_path
    settings.REASON_DEVICE = "cpu"
    repeat_buyers_shop(customers=3)
    out = io.StringIO()

    call_command("train_reason_adapter", steps=1, batch_size=1, activate=True, force=True, stdout=out)

    adapter = ReasonAdapter.objects.get()
    assert adapter.state == AdapterState.ACTIVE
    assert (adapter.examples, adapter.heldout_examples, adapter.device) == (2, 1, "cpu")
    text = out.getvalue()
    assert "check on 1 held-out examples, 1 prompts:" in text
    assert f"held-out loss {adapter.adapter_loss:.4f} against the base model's {adapter.base_loss:.4f}" in text
    assert "reasons are now written as SmolLM2-135M-Instruct+adapter@v1" in text


def test_activate_and_rollback_from_the_command_line(tmp_path):
    (tmp_path / "adapter_config.json").write_text("{}")
    failed = ReasonAdapterFactory(path=str(tmp_path), state=AdapterState.FAILED, adapter_loss=3.0)
    out = io.StringIO()

    with pytest.raises(CommandError, match="is not activated: held-out loss 3.0000"):
        call_command("activate_reason_adapter", str(failed.version))
    call_command("activate_reason_adapter", str(failed.version), force=True, stdout=out)
    call_command("activate_reason_adapter", rollback=True, stdout=out)

    assert "retired v" in out.getvalue() and "serving the base model alone" in out.getvalue()
    with pytest.raises(CommandError, match="no reason adapter v999"):
        call_command("activate_reason_adapter", "999")
    with pytest.raises(CommandError, match="no adapter is active"):
        call_command("activate_reason_adapter", rollback=True)
    with pytest.raises(CommandError, match="give a VERSION"):
        call_command("activate_reason_adapter")
