"""Adapter versions: training and its check with the real small model, activation (refused when
the check did not pass), one active at a time, rollback, and serving: base + adapter, labelled
with the version in the reasons and their cache keys, the base model when the adapter cannot load."""

from __future__ import annotations

import json
import shutil

import pytest
from django.db import IntegrityError, transaction

from recommendations.contracts import ScoredItem
from recommendations.reasons import adapter_serving
from recommendations.reasons.adapters import (
    AdapterCheckError,
    AdapterError,
    adapter_activate,
    adapter_check_run,
    adapter_rollback,
    adapter_train,
    examples_split,
)
from recommendations.reasons.backend_choice import _backend, reasons_backend, reasons_identity
from recommendations.reasons.backends import ServedAdapter
from recommendations.reasons.basis import Basis
from recommendations.reasons.generation import ReasonSpec, reasons_generate
from recommendations.reasons.local_lm import SMOLLM2_NAME, AdaptedBackend, TransformersBackend, model_load
from recommendations.reasons.models import AdapterState, Generation, ReasonAdapter
from recommendations.reasons.pool import active_templates
from recommendations.reasons.stage import reason_keys
from recsite.metrics import FALLBACKS
from tests.factories import ReasonAdapterFactory
from tests.recommendations.reasons.adapter_fixtures import EXAMPLE, adapter_train_on_examples, repeat_buyers_shop
from tests.recommendations.reasons_fixtures import default_templates

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def adapter_dir(tmp_path_factory):
    return adapter_train_on_examples(tmp_path_factory.mktemp("adapter"))


@pytest.fixture
def stored(tmp_path):
    """A directory that holds an adapter as far as activation looks (its config file)."""
    (tmp_path / "adapter_config.json").write_text("{}")
    return str(tmp_path)


def test_activation_is_refused_when_the_check_did_not_pass_and_both_numbers_are_said(stored):
    adapter = ReasonAdapterFactory(path=stored, state=AdapterState.FAILED, adapter_loss=2.7, base_loss=2.5)

    with pytest.raises(AdapterCheckError) as refused:
        adapter_activate(adapter_id=adapter.pk)

    assert "held-out loss 2.7000 against the base model's 2.5000" in str(refused.value)
    assert "guardrail pass rate 80.0% against the base model's 60.0%" in str(refused.value)
    assert not ReasonAdapter.objects.filter(state=AdapterState.ACTIVE).exists()


def test_forced_activation_serves_a_failed_version_and_retires_the_active_one(stored, django_user_model):
    user = django_user_model.objects.create(username="ops")
    first = adapter_activate(adapter_id=ReasonAdapterFactory(path=stored).pk)
    failed = ReasonAdapterFactory(path=stored, state=AdapterState.FAILED, adapter_pass_rate=0.1)

    activated = adapter_activate(adapter_id=failed.pk, user_id=user.pk, force=True)

    first.refresh_from_db()
    assert (activated.state, activated.activated_by, activated.replaced) == (AdapterState.ACTIVE, user, first)
    assert first.state == AdapterState.RETIRED


@pytest.mark.parametrize("force", [False, True])
def test_a_missing_directory_or_another_base_model_is_refused_even_forced(tmp_path, stored, force):
    missing = ReasonAdapterFactory(path=str(tmp_path / "gone"))
    foreign = ReasonAdapterFactory(path=stored, base_model="Qwen2.5-0.5B-Instruct")

    with pytest.raises(AdapterError, match="is missing or holds no adapter"):
        adapter_activate(adapter_id=missing.pk, force=force)
    with pytest.raises(AdapterError, match="was trained on 'Qwen2.5-0.5B-Instruct'"):
        adapter_activate(adapter_id=foreign.pk, force=force)
    assert not ReasonAdapter.objects.filter(state=AdapterState.ACTIVE).exists()


def test_the_database_keeps_one_active_version(stored):
    ReasonAdapterFactory(path=stored, state=AdapterState.ACTIVE)

    with pytest.raises(IntegrityError), transaction.atomic():
        ReasonAdapterFactory(path=stored, state=AdapterState.ACTIVE)


def test_rollback_walks_back_through_the_versions_each_replaced_then_to_the_base_model(stored):
    v1, v2, v3 = (ReasonAdapterFactory(path=stored) for _ in range(3))
    for adapter in (v1, v2, v3):
        adapter_activate(adapter_id=adapter.pk)

    assert [(r.version, s.version) for r, s in [adapter_rollback()]] == [(v3.version, v2.version)]
    assert [(r.version, s.version) for r, s in [adapter_rollback()]] == [(v2.version, v1.version)]
    retired, served = adapter_rollback()

    assert (retired.version, served) == (v1.version, None)
    assert set(ReasonAdapter.objects.values_list("state", flat=True)) == {AdapterState.RETIRED}
    with pytest.raises(AdapterError, match="no adapter is active"):
        adapter_rollback()


def test_rollback_is_refused_when_the_replaced_version_lost_its_directory(tmp_path, stored):
    old = ReasonAdapterFactory(path=str(tmp_path / "old"))
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "adapter_config.json").write_text("{}")
    adapter_activate(adapter_id=old.pk)
    adapter_activate(adapter_id=ReasonAdapterFactory(path=stored).pk)
    (tmp_path / "old" / "adapter_config.json").unlink()

    with pytest.raises(AdapterError, match="missing"):
        adapter_rollback()

    assert ReasonAdapter.objects.get(state=AdapterState.ACTIVE).path == stored


def test_training_without_examples_is_an_error_in_words():
    with pytest.raises(AdapterError, match="0 instruction example"):
        examples_split(limit=None)


def test_the_split_holds_customers_out_of_training():
    repeat_buyers_shop(customers=10)

    train, heldout = examples_split(limit=None, heldout_share=0.2)

    assert (len(train), len(heldout)) == (8, 2)
    # as serving asks them: the served prompt, the grounded reason as the answer
    assert all(e.input == "" and e.output == "Because you bought White Mug." for e in train + heldout)


def test_reasons_are_keyed_and_labelled_by_the_active_version(settings, stored):
    settings.REASON_BACKEND = "transformers"
    default_templates()
    template = next(t for t in active_templates() if t.purpose == "reason")
    items = [ScoredItem(product_pk=1, product_id="p1", title="P1", score=1.0, routes={"popularity": 1.0})]
    bases = [Basis("popularity")]
    base_keys = reason_keys(template=template, items=items, bases=bases, facts={})
    v1, v2 = ReasonAdapterFactory(path=stored), ReasonAdapterFactory(path=stored)

    adapter_activate(adapter_id=v1.pk)
    v1_keys = reason_keys(template=template, items=items, bases=bases, facts={})
    assert reasons_identity() == ("transformers", f"{SMOLLM2_NAME}+adapter@v{v1.version}")
    adapter_activate(adapter_id=v2.pk)
    v2_keys = reason_keys(template=template, items=items, bases=bases, facts={})
    adapter_rollback()

    assert reason_keys(template=template, items=items, bases=bases, facts={}) == v1_keys
    assert len({*base_keys, *v1_keys, *v2_keys}) == 3


def test_an_active_adapter_of_another_base_model_leaves_the_base_model_serving(settings, stored):
    settings.REASON_BACKEND = "transformers"
    ReasonAdapterFactory(path=stored, base_model="other-model", state=AdapterState.ACTIVE)
    adapter_serving.adapter_active_forget()

    assert reasons_identity() == ("transformers", SMOLLM2_NAME)


@pytest.mark.slow
def test_training_stores_a_checked_version_with_its_files(settings, tmp_path):
    settings.REASON_ADAPTER_DIR = tmp_path
    repeat_buyers_shop(customers=4)

    adapter = adapter_train(steps=2, batch_size=2, loaded=model_load(source="", device="cpu", half=False))

    assert (adapter.version, adapter.examples, adapter.heldout_examples, adapter.steps) == (1, 3, 1, 2)
    assert adapter.state in (AdapterState.PASSED, AdapterState.FAILED)
    assert adapter.adapter_loss is not None and adapter.base_loss is not None and adapter.check_prompts == 1
    directory = tmp_path / "v1"
    assert adapter.path == str(directory) and (directory / "adapter_config.json").is_file()
    assert json.loads((directory / "heldout.jsonl").read_text())["output"] == "Because you bought White Mug."
    assert [p.name for p in tmp_path.iterdir()] == ["v1"]  # the training directory was renamed


@pytest.mark.slow
def test_the_backend_serves_base_and_adapter_and_falls_back_when_it_cannot_load(adapter_dir, tmp_path):
    backend = TransformersBackend(device="cpu")
    base_before = backend.generate(prompts=["Name a colour."], max_new_tokens=6)[0].text
    failures = FALLBACKS.labels(stage="reasons", reason="adapter_load")
    failed_before = failures._value.get()

    adapted = backend.adapted(ServedAdapter(version=7, base_model=SMOLLM2_NAME, path=str(adapter_dir)))
    missing = backend.adapted(ServedAdapter(version=8, base_model=SMOLLM2_NAME, path=str(tmp_path / "gone")))
    foreign = backend.adapted(ServedAdapter(version=9, base_model="other-model", path=str(adapter_dir)))

    assert isinstance(adapted, AdaptedBackend) and adapted.model == f"{SMOLLM2_NAME}+adapter@v7"
    assert adapted.generate(prompts=["Name a colour."], max_new_tokens=6)[0].text
    # the adapter lives in the base's layers now: the base model still answers as before
    assert backend.generate(prompts=["Name a colour."], max_new_tokens=6)[0].text == base_before
    assert missing is backend and foreign is backend
    assert set(backend.adapter_failures) == {8, 9}
    assert failures._value.get() == failed_before + 2
    assert backend.adapted(ServedAdapter(version=7, base_model=SMOLLM2_NAME, path="/elsewhere")) is not backend


@pytest.mark.slow
def test_generated_reasons_record_the_adapter_version(settings, adapter_dir, llm_caches_cleared):
    settings.REASON_BACKEND = "transformers"
    settings.REASON_DEVICE = "cpu"
    shop = repeat_buyers_shop(customers=1)
    version = default_templates()["reason"].active_version_id
    adapter = ReasonAdapterFactory(path=str(adapter_dir))
    adapter_activate(adapter_id=adapter.pk)

    report = reasons_generate(
        specs=[ReasonSpec(version, shop["teapot"].pk, "itemcf", shop["mug"].pk)], max_new_tokens=8
    )
    adapter_rollback()

    assert report.generated == 1
    assert Generation.objects.get().model == f"{SMOLLM2_NAME}+adapter@v{adapter.version}"
    assert reasons_backend().model == SMOLLM2_NAME  # rolled back: the base model writes again
    assert isinstance(_backend("transformers"), TransformersBackend)


@pytest.mark.slow
def test_the_check_runs_again_on_a_stored_version_and_an_active_one_stays_active(adapter_dir, tmp_path):
    shop = repeat_buyers_shop(customers=1)
    directory = tmp_path / "v1"
    shutil.copytree(adapter_dir, directory)
    heldout = {**EXAMPLE, "target_pk": shop["teapot"].pk, "seed_pk": shop["mug"].pk}
    (directory / "heldout.jsonl").write_text(json.dumps(heldout) + "\n")
    adapter = ReasonAdapterFactory(path=str(directory), state=AdapterState.ACTIVE, base_loss=None, adapter_loss=None)

    checked = adapter_check_run(adapter_id=adapter.pk, loaded=model_load(source="", device="cpu", half=False))

    assert checked.state == AdapterState.ACTIVE
    assert checked.adapter_loss < checked.base_loss  # trained on this very example
    assert (checked.check_prompts, checked.check_floor) == (1, 0.5)
    assert checked.checked_at is not None
