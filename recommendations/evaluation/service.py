"""`evaluate`'s database side: load events and embeddings, run the protocol, store the run."""

from __future__ import annotations

import dataclasses
import time

from django.conf import settings

from recommendations.embeddings.stored import embeddings_load
from recommendations.evaluation.rankers import PREFIX as RANKER_PREFIX
from recommendations.evaluation.runner import EvaluationConfig, EvaluationResult, evaluation_run
from recommendations.interactions import interactions_load
from recommendations.models import EvaluationRun
from recommendations.ranking.features import catalog_load


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
