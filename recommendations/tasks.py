"""Celery tasks of the recommendation engine: each loads what it needs by id and calls a service."""

from __future__ import annotations

import dataclasses
from typing import Any

from recommendations.adminjobs import kinds as admin_job_kinds
from recommendations.adminjobs.service import job_run
from recommendations.badcases.detectors import badcases_detect

# The conversation's and the reasons' tasks live in their packages; Celery finds an app's tasks
# through this module.
from recommendations.conversation.tasks import parse_turn  # noqa: F401
from recommendations.embeddings import adaptation
from recommendations.embeddings import service as embeddings
from recommendations.evaluation.gate import gate_run
from recommendations.feeds.tasks import precompute_active_feeds, precompute_feeds  # noqa: F401
from recommendations.ranking.training import ranker_train
from recommendations.reasons.tasks import (  # noqa: F401
    generate_reasons,
    generate_rerank,
    lora_finetune,
    pregenerate_reasons,
    refresh_prompt_pool,
)
from recommendations.recall.budget import neighbors_share
from recommendations.recall.collaborative import collaborative_rebuild
from recommendations.recall.copurchase import copurchase_rebuild
from recommendations.recall.itemcf import itemcf_neighbors_rebuild
from recommendations.recall.popularity import popularity_rebuild
from recommendations.served import served_lists_prune
from recommendations.shadow import scoring
from recsite.tasks import transient_task


# Longer than the policy's: a GPU batch is worth more tries, spread over up to ten minutes.
@transient_task(bind=True, acks_late=True, retry_backoff_max=600, retry_jitter=True, max_retries=5)
def embed_products(self, *, batch_size: int | None = None, limit: int | None = None) -> dict[str, Any]:
    """Embed the products whose embedding is missing or stale (routed to the `gpu` queue).

    Safe to deliver twice: a second run finds nothing stale and embeds nothing.
    """
    report = embeddings.embed_products(batch_size=batch_size, limit=limit)
    return dataclasses.asdict(report)


@transient_task(acks_late=True, ignore_result=True)
def build_neighbors() -> int:
    """Rebuild item-CF neighbours from all events, sampled to NEIGHBORS_MEMORY_BUDGET_MB, and
    co-purchase neighbours from all purchases (idempotent: each table is replaced whole); returns
    the item-CF rows."""
    rows = itemcf_neighbors_rebuild(customer_share=neighbors_share())
    copurchase_rebuild()
    # The item-CF candidates kept ahead are unused now: the active customers' are made again.
    precompute_active_feeds()
    return rows


@transient_task(acks_late=True)
def build_collaborative(*, algorithm: str | None = None, activate: bool = True) -> int:
    """Fit the collaborative route on all events and store (and serve) a new version (routed to
    the `gpu` queue: ALS runs on cuda there); returns its id. Delivered twice, it stores two
    versions, the later one served."""
    share = neighbors_share(algorithm=algorithm)
    model = collaborative_rebuild(algorithm=algorithm, activate=activate, customer_share=share)
    if activate:
        precompute_active_feeds()
    return model.pk


@transient_task(acks_late=True)
def adapt_embeddings(*, max_pairs: int | None = None, epochs: int | None = None) -> int:
    """Fine-tune the sentence model on the shop's pairs and store a new version (routed to the
    `gpu` queue); returns its id. Delivered twice, it stores two versions; neither is served
    until an operator points EMBEDDING_MODEL at one."""
    return adaptation.embedding_adapt(
        max_pairs=max_pairs or adaptation.MAX_PAIRS, epochs=epochs or adaptation.EPOCHS
    ).pk


@transient_task(acks_late=True, ignore_result=True)
def build_popularity() -> int:
    """Rebuild time-decayed item popularity from all events, sampled to NEIGHBORS_MEMORY_BUDGET_MB
    (idempotent: the table is replaced whole)."""
    return popularity_rebuild(customer_share=neighbors_share())


@transient_task(acks_late=True)
def train_ranker(*, feature_set: str, as_of: float | None = None, name: str | None = None) -> int:
    """Train and store a new, inactive ranker version (routed to the `gpu` queue); returns its id.

    Delivered twice, it stores two versions; neither becomes active without an operator.
    """
    return ranker_train(feature_set=feature_set, as_of=as_of, name=name).pk


@transient_task(acks_late=True)
def evaluate_strategy(*, config: dict[str, Any], name: str, placement: str, source: str = "") -> int:
    """Evaluate a strategy against `placement`'s serving default offline and store the run (routed
    to the `gpu` queue, one at a time: it trains rankers and the collaborative route like
    `train_ranker`); returns the run's id. A bad strategy or no data to evaluate fails the task
    (not retried) and stores nothing; delivered twice, it stores two runs."""
    return gate_run(config=config, name=name, placement=placement, source=source).pk


@transient_task(acks_late=True, ignore_result=True)
def detect_bad_cases() -> int:
    """File bad cases for the served lists not yet scanned (safe twice: a case is filed once)."""
    return badcases_detect().lists_scanned


@transient_task(acks_late=True, ignore_result=True)
def prune_served_lists() -> int:
    """Delete served lists past their retention (idempotent)."""
    return served_lists_prune()


@transient_task(acks_late=True, ignore_result=True, name="recommendations.tasks.shadow_score")
def shadow_score(*, shadow_id: int, request: dict[str, Any], recommendation_id: str, served: list[str]) -> None:
    """A shadow strategy's list for a served request, compared and kept (off the request path)."""
    scoring.shadow_score(shadow_id=shadow_id, request=request, recommendation_id=recommendation_id, served=served)


# Interactive: its errors and timeouts end in the job's row for the page, and a retry or a second
# delivery would come after the person has left it (acked on receipt; no retries). The time limits
# come with each call (recommendations.admin.jobs).
@transient_task(ignore_result=True, acks_late=False, autoretry_for=())
def run_admin_job(*, job_id: str) -> str:
    """Run one admin job (a model preview, a dry run) and store its result in its row."""
    return job_run(job_id=job_id, runners=admin_job_kinds.RUNNERS)
