"""Celery tasks of the reasons: generation and rerank and LoRA on the `gpu` queue, pre-generation
and the prompt pool's statistics on `default`. Each takes ids and calls a service."""

from __future__ import annotations

import dataclasses
from typing import Any

from celery import shared_task

from recommendations.reasons.backend_choice import backend_identity
from recommendations.reasons.backends import GROUNDED
from recommendations.reasons.generation import ReasonSpec, popular_reason_specs, reasons_generate, stale_reasons_prune
from recommendations.reasons.lora import lora_train
from recommendations.reasons.pool import pool_stats_refresh
from recommendations.reasons.rerank import rerank_generate
from recsite.tasks import transient_task

PREGENERATE_CHUNK = 64


@transient_task(acks_late=True)
def generate_reasons(*, specs: list[list]) -> dict[str, Any]:
    """Generate and cache reasons for [version_id, product_pk, route, seed_pk] specs (idempotent)."""
    report = reasons_generate(specs=[ReasonSpec(*spec) for spec in specs])
    return dataclasses.asdict(report)


@transient_task(acks_late=True, ignore_result=True)
def pregenerate_reasons(*, top_n: int = 1000, seeds_per_item: int = 1000, semantic_seeds_per_item: int = 100) -> int:
    """Enqueue generation for the most popular items' likely reasons; returns the specs sent
    (none with the grounded backend: it has nothing to generate)."""
    if backend_identity()[0] == GROUNDED:
        return 0
    specs = [
        [s.version_id, s.product_pk, s.route, s.seed_pk]
        for s in popular_reason_specs(
            top_n=top_n, seeds_per_item=seeds_per_item, semantic_seeds_per_item=semantic_seeds_per_item
        )
    ]
    for start in range(0, len(specs), PREGENERATE_CHUNK):
        generate_reasons.delay(specs=specs[start : start + PREGENERATE_CHUNK])
    return len(specs)


@transient_task(ignore_result=True)
def prune_stale_reasons() -> int:
    """Delete cached reasons written from facts the catalog no longer holds; returns how many."""
    return stale_reasons_prune()


@transient_task(acks_late=True)
def generate_rerank(*, version_id: int, candidate_ids: list[str], history_pks: list[int]) -> list[str]:
    return rerank_generate(version_id=version_id, candidate_ids=candidate_ids, history_pks=history_pks).order


@transient_task(ignore_result=True)
def refresh_prompt_pool() -> int:
    return pool_stats_refresh()


@shared_task(acks_late=True)
def lora_finetune(*, path: str, output_dir: str, steps: int = 100, model: str = "") -> dict[str, Any]:
    """Fine-tune the reason model with LoRA on an `export_instructions` file; saves the adapter."""
    return dataclasses.asdict(lora_train(path=path, output_dir=output_dir, steps=steps, model=model))
