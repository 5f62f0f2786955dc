"""Versions of the reason model's LoRA adapter: train → check → activate → roll back.

- `adapter_train`: instruction examples from purchase histories (`instructions`), split by customer
  into training and held-out ones (seeded), LoRA on the training ones (`lora.lora_fit`), the offline
  check on the held-out ones (`adapter_check`), stored as a new version with its directory under
  `REASON_ADAPTER_DIR` (the adapter, both example files, the training report).
- `adapter_check_run`: the check again, for a stored version (on the current catalog and template).
- `adapter_activate`: serve a version; refused when its check did not pass unless forced, and
  always when its directory is missing or it was trained on another base model than the configured
  one. The version it replaces is remembered, so `adapter_rollback` serves that one again (or the
  base model alone, when it replaced none).

Activations and rollbacks take one lock, and a database constraint keeps at most one version active.
"""

from __future__ import annotations

import json
import random
import shutil
import uuid
from dataclasses import asdict
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from recommendations.reasons.adapter_check import HeldOut, adapter_check, check_verdict, served_examples
from recommendations.reasons.adapter_serving import adapter_active_forget
from recommendations.reasons.instructions import instruction_items
from recommendations.reasons.local_lm import SMOLLM2_NAME, device_pick, model_load
from recommendations.reasons.lora import lora_fit
from recommendations.reasons.models import AdapterState, ReasonAdapter

HELDOUT_SHARE = 0.1
SPLIT_SEED = 42
# pg_advisory_xact_lock's first key: this module's lock space (any constant of its own).
LOCK_SPACE = 0x72616470


class AdapterError(ValueError):
    """What cannot be done with an adapter, in words for a command or an admin message."""


class AdapterCheckError(AdapterError):
    """An activation refused because the version did not pass its offline check."""


def base_model_name() -> str:
    """The base model the local backend serves (`REASON_MODEL`, empty: the shipped SmolLM2)."""
    return settings.REASON_MODEL or SMOLLM2_NAME


def adapter_verdict(adapter: ReasonAdapter) -> tuple[bool, str]:
    """Whether the version passed its stored check, and the numbers in words."""
    return check_verdict(
        base_loss=adapter.base_loss,
        adapter_loss=adapter.adapter_loss,
        base_pass_rate=adapter.base_pass_rate,
        adapter_pass_rate=adapter.adapter_pass_rate,
        floor=adapter.check_floor if adapter.check_floor is not None else settings.REASON_ADAPTER_MIN_PASS_RATE,
    )


def examples_split(*, limit: int | None, heldout_share: float = HELDOUT_SHARE) -> tuple[list[HeldOut], list[HeldOut]]:
    """(training, held-out) examples, one per customer, shuffled with a fixed seed, as the served
    reason prompt asks them (`served_examples`)."""
    items = served_examples(
        examples=[
            HeldOut(**asdict(item.example), target_pk=item.target_pk, seed_pk=item.seed_pk)
            for item in instruction_items(limit=limit)
        ]
    )
    if len(items) < 2:
        raise AdapterError(
            f"{len(items)} instruction example(s): training needs at least 2 (customers who bought two "
            "items or more), one of them held out for the check"
        )
    random.Random(SPLIT_SEED).shuffle(items)
    heldout = min(len(items) - 1, max(1, round(len(items) * heldout_share)))
    return items[heldout:], items[:heldout]


def adapter_train(
    *,
    steps: int = 100,
    limit: int | None = None,
    batch_size: int = 4,
    heldout_share: float = HELDOUT_SHARE,
    user_id: int | None = None,
    loaded: tuple[object, object, str] | None = None,
) -> ReasonAdapter:
    """Train, check and store a new version (not served: `adapter_activate` serves it).

    `loaded`: a (model, tokenizer, device) in fp32 this process holds already (its weights get the
    adapters)."""
    if steps < 1:
        raise AdapterError("steps must be at least 1")
    train, heldout = examples_split(limit=limit, heldout_share=heldout_share)
    root = Path(settings.REASON_ADAPTER_DIR)
    # Trained under a name of its own, renamed to its version once stored: two trainings at once
    # never share a directory, and a failed one leaves no version.
    work = root / f"training-{uuid.uuid4().hex}"
    work.mkdir(parents=True, exist_ok=True)
    try:
        for name, rows in (("train.jsonl", train), ("heldout.jsonl", heldout)):
            (work / name).write_text("".join(json.dumps(asdict(row)) + "\n" for row in rows), encoding="utf-8")
        loaded = loaded or model_load(
            source=settings.REASON_MODEL, device=device_pick(settings.REASON_DEVICE), half=False
        )
        report, peft_model = lora_fit(
            examples=[{"instruction": e.instruction, "input": e.input, "output": e.output} for e in train],
            output_dir=str(work),
            steps=steps,
            batch_size=batch_size,
            loaded=loaded,
        )
        figures = adapter_check(
            peft_model=peft_model,
            tokenizer=loaded[1],
            device=loaded[2],
            examples=heldout,
            floor=settings.REASON_ADAPTER_MIN_PASS_RATE,
        )
        with transaction.atomic():
            latest = ReasonAdapter.objects.select_for_update().aggregate(v=Max("version"))["v"]
            version = (latest or 0) + 1
            directory = root / f"v{version}"
            if directory.exists():
                shutil.rmtree(directory)  # a version whose row was deleted: its files are stale
            work.rename(directory)
            return ReasonAdapter.objects.create(
                version=version,
                base_model=base_model_name(),
                path=str(directory),
                state=AdapterState.PASSED if figures.verdict[0] else AdapterState.FAILED,
                examples=len(train),
                heldout_examples=len(heldout),
                steps=report.steps,
                first_loss=report.first_loss,
                last_loss=report.last_loss,
                training_seconds=report.seconds,
                device=report.device,
                base_loss=figures.base_loss,
                adapter_loss=figures.adapter_loss,
                base_pass_rate=figures.base_pass_rate,
                adapter_pass_rate=figures.adapter_pass_rate,
                check_prompts=figures.prompts,
                check_floor=figures.floor,
                checked_at=timezone.now(),
                trained_by_id=user_id,
            )
    finally:
        if work.exists():
            shutil.rmtree(work)


def _usable(adapter: ReasonAdapter) -> None:
    """Raise AdapterError when this process's backend could not serve the version."""
    problem = adapter.served().unservable(base_model_name())
    if problem is not None:
        raise AdapterError(f"reason adapter v{adapter.version} cannot be served: {problem}")


def adapter_check_run(*, adapter_id: int, loaded: tuple[object, object, str] | None = None) -> ReasonAdapter:
    """Run the offline check of a stored version again and store its figures (an active version
    stays active; a stored one becomes passed or failed)."""
    from peft import PeftModel  # noqa: PLC0415 - peft: heavy, loaded by the check only

    adapter = ReasonAdapter.objects.get(pk=adapter_id)
    _usable(adapter)
    heldout_file = Path(adapter.path) / "heldout.jsonl"
    if not heldout_file.is_file():
        raise AdapterError(f"reason adapter v{adapter.version} has no held-out examples ({heldout_file} is missing)")
    heldout = [HeldOut(**json.loads(line)) for line in heldout_file.read_text(encoding="utf-8").splitlines() if line]
    # fp32 like the check at the end of training, so a version's figures compare across runs.
    model, tokenizer, device = loaded or model_load(
        source=settings.REASON_MODEL, device=device_pick(settings.REASON_DEVICE), half=False
    )
    peft_model = PeftModel.from_pretrained(model, adapter.path).eval()
    figures = adapter_check(
        peft_model=peft_model,
        tokenizer=tokenizer,
        device=device,
        examples=heldout,
        floor=settings.REASON_ADAPTER_MIN_PASS_RATE,
    )
    fields = {
        "base_loss": figures.base_loss,
        "adapter_loss": figures.adapter_loss,
        "base_pass_rate": figures.base_pass_rate,
        "adapter_pass_rate": figures.adapter_pass_rate,
        "check_prompts": figures.prompts,
        "check_floor": figures.floor,
        "checked_at": timezone.now(),
    }
    # Served and retired versions keep their state; the others say how this check went.
    ReasonAdapter.objects.filter(
        pk=adapter.pk, state__in=[AdapterState.TRAINED, AdapterState.PASSED, AdapterState.FAILED]
    ).update(state=AdapterState.PASSED if figures.verdict[0] else AdapterState.FAILED)
    ReasonAdapter.objects.filter(pk=adapter.pk).update(**fields)
    adapter.refresh_from_db()
    return adapter


def _lock() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, 0)", [LOCK_SPACE])


def adapter_activate(*, adapter_id: int, user_id: int | None = None, force: bool = False) -> ReasonAdapter:
    """Serve version `adapter_id` (the active one is retired and remembered for a rollback).

    Refused (`AdapterCheckError`) when it did not pass its check, unless `force`; refused
    (`AdapterError`) when its directory is missing or it was trained on another base model."""
    with transaction.atomic():
        _lock()
        adapter = ReasonAdapter.objects.get(pk=adapter_id)
        if adapter.state == AdapterState.ACTIVE:
            raise AdapterError(f"reason adapter v{adapter.version} is active already")
        _usable(adapter)
        passed, words = adapter_verdict(adapter)
        if not passed and not force:
            raise AdapterCheckError(f"reason adapter v{adapter.version} is not activated: {words}")
        current = ReasonAdapter.objects.filter(state=AdapterState.ACTIVE).first()
        if current is not None:
            current.state = AdapterState.RETIRED
            current.save(update_fields=["state"])
        adapter.state = AdapterState.ACTIVE
        adapter.replaced = current
        adapter.activated_at = timezone.now()
        adapter.activated_by_id = user_id
        adapter.save(update_fields=["state", "replaced", "activated_at", "activated_by"])
    adapter_active_forget()
    return adapter


def adapter_rollback(*, user_id: int | None = None) -> tuple[ReasonAdapter, ReasonAdapter | None]:
    """Retire the active version and serve the one it replaced; (retired, now served), the latter
    None when the base model now serves alone. Refused when no version is active, or when the one
    it replaced can no longer be served (its directory is gone)."""
    with transaction.atomic():
        _lock()
        current = ReasonAdapter.objects.select_related("replaced").filter(state=AdapterState.ACTIVE).first()
        if current is None:
            raise AdapterError("no adapter is active: the base model serves already")
        previous = current.replaced
        if previous is not None:
            _usable(previous)
        current.state = AdapterState.RETIRED
        current.save(update_fields=["state"])
        if previous is not None:
            # Its own `replaced` is kept: a second rollback goes one version further back.
            previous.state = AdapterState.ACTIVE
            previous.activated_at = timezone.now()
            previous.activated_by_id = user_id
            previous.save(update_fields=["state", "activated_at", "activated_by"])
    adapter_active_forget()
    return current, previous
