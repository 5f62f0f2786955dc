"""`evaluate`'s database side: load events and embeddings, run the protocol, store the run."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
from django.conf import settings

from recommendations.evaluation.runner import EvaluationConfig, EvaluationResult, evaluation_run
from recommendations.models import EvaluationRun
from recommendations.ranking.evaluation import PREFIX as RANKER_PREFIX
from recommendations.ranking.features import catalog_load
from recommendations.recall.events import interactions_load


def embeddings_load(*, product_pks: np.ndarray) -> np.ndarray | None:
    """Stored product embeddings as items × dims aligned with `product_pks` (zero rows where none)."""
    from catalog.models import ProductEmbedding

    rows = list(ProductEmbedding.objects.values_list("product_id", "vector"))
    if not rows:
        return None
    pks = np.fromiter((pk for pk, _ in rows), dtype=np.int64, count=len(rows))
    vectors = np.stack([np.asarray(vector, dtype=np.float32) for _, vector in rows])
    embeddings = np.zeros((len(product_pks), vectors.shape[1]), dtype=np.float32)
    positions = np.searchsorted(product_pks, pks)
    embeddings[positions] = vectors
    return embeddings


def evaluation_execute(*, config: EvaluationConfig) -> tuple[EvaluationResult, EvaluationRun]:
    """Evaluate on every stored event under `config` and store the run.

    Raises `EvaluationError` when the data cannot be evaluated as asked (nothing is stored then).
    """
    started = time.perf_counter()
    interactions, product_pks = interactions_load()
    embeddings = embeddings_load(product_pks=product_pks)
    # The rankers' features also need prices and categories.
    catalog = catalog_load() if any(name.startswith(RANKER_PREFIX) for name in config.strategies) else None
    config = dataclasses.replace(config, memory_budget=settings.RANKER_MEMORY_BUDGET_MB * 2**20)
    result = evaluation_run(interactions=interactions, embeddings=embeddings, config=config, catalog=catalog)
    run = EvaluationRun.objects.create(
        protocol=result.protocol, strategies=result.strategies, duration_s=time.perf_counter() - started
    )
    return result, run
