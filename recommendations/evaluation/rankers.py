"""The rankers' rows of the offline evaluation, trained in memory on the training events only.

The ranker is trained as `train_ranker` would train it on the training events: lists cut from each
customer's own history the way the split cuts the test (`TrainingCut`: the last visit for a cutoff
split, the last N positive events for `--holdout-last N`). It then reorders each evaluated
customer's top fused candidates, built from routes trained on all the training events, with
features as of each customer's request time.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

import numpy as np

from recommendations.evaluation.split import Split
from recommendations.evaluation.strategies import TrainedRoutes
from recommendations.interactions import interaction_matrix
from recommendations.ranking.features import (
    FEATURE_SETS,
    Catalog,
    catalog_build,
    customer_state_build,
    features_compute,
    item_state_build,
)
from recommendations.ranking.training import (
    MEMORY_BUDGET_BYTES,
    RANK_CANDIDATES,
    ROUNDS,
    SEED,
    RankerTrainingError,
    TrainingCut,
    candidate_lists,
    importance_top,
    ranked_lists,
    ranker_fit,
    ranker_scores,
    training_data_build,
)
from recsite.memory import peak_rss_mb

PREFIX = "ranker_"
# Evaluated customers ranked together (their candidate rows and features are in memory at once).
SCORING_BLOCK = 2000


def ranker_rankings(
    *,
    split: Split,
    trained: TrainedRoutes,
    catalog: Catalog,
    feature_sets: Sequence[str],
    weights: Mapping[str, float],
    per_route: int,
    k: int,
    include_seen: bool,
    cut: TrainingCut,
    seed: int = SEED,
    candidates: int = RANK_CANDIDATES,
    rounds: int = ROUNDS,
    memory_budget: int = MEMORY_BUDGET_BYTES,
) -> tuple[dict[str, list[list[int]]], dict]:
    """Top-`k` lists of `ranker_<feature set>` for every evaluated user, and what was trained.

    When the training events cannot train a ranker, no lists come back and the info says why.
    """
    import lightgbm as lgb  # noqa: PLC0415 - lightgbm: heavy, loaded by ranker evaluation only

    started = time.perf_counter()
    try:
        data = training_data_build(
            interactions=split.train,
            catalog=catalog,
            cut=cut,
            weights=weights,
            seed=seed,
            candidates=candidates,
            rounds=rounds,
            memory_budget=memory_budget,
        )
        built = time.perf_counter() - started
        fitted = {}
        for feature_set in feature_sets:
            fitted[feature_set] = ranker_fit(data=data, feature_set=feature_set, seed=seed)
    except RankerTrainingError as exc:
        return {}, {"skipped": str(exc)}
    seen = interaction_matrix(interactions=split.train)
    if include_seen:
        seen = seen.multiply(0).tocsr()
    began = time.perf_counter()
    items = item_state_build(events=split.train)
    customers = customer_state_build(events=split.train, catalog=catalog, clock=split.clock)
    boosters = {feature_set: lgb.Booster(model_str=fitted[feature_set].model) for feature_set in feature_sets}
    rankings: dict[str, list[list[int]]] = {PREFIX + feature_set: [] for feature_set in feature_sets}
    scoring = dict.fromkeys(feature_sets, 0.0)
    shared = built + time.perf_counter() - began
    # Customers are ranked a block at a time: candidate rows and features of one block in memory.
    for start in range(0, len(split.users), SCORING_BLOCK):
        began = time.perf_counter()
        lists = candidate_lists(
            trained=trained,
            users=split.users[start : start + SCORING_BLOCK],
            seen=seen,
            weights=weights,
            per_route=per_route,
            n=candidates,
        )
        shared += time.perf_counter() - began
        for feature_set in feature_sets:
            began = time.perf_counter()
            features = features_compute(
                lists=lists,
                items=items,
                customers=customers,
                catalog=catalog,
                names=FEATURE_SETS[feature_set],
                basis=fitted[feature_set].basis,
            )
            scores = ranker_scores(model=boosters[feature_set], features=features)
            rankings[PREFIX + feature_set] += [ranked[:k] for ranked in ranked_lists(lists=lists, scores=scores)]
            scoring[feature_set] += time.perf_counter() - began
    info: dict = {"training": data.windows | {"seed": seed}}
    for feature_set in feature_sets:
        info[PREFIX + feature_set] = {
            "validation": fitted[feature_set].validation_metrics,
            "training_seconds": round(fitted[feature_set].training_seconds, 2),
            "seconds": round(shared + fitted[feature_set].training_seconds + scoring[feature_set], 2),
            "top_features": dict(importance_top(importance=fitted[feature_set].feature_importance, n=8)),
        }
    info["peak_rss_mb"] = peak_rss_mb()
    return rankings, info


def catalog_from_embeddings(*, n_items: int, embeddings: np.ndarray | None) -> Catalog:
    """A catalog knowing only embeddings (no prices, no categories), for arrays-only runs."""
    return catalog_build(
        product_pks=np.arange(n_items, dtype=np.int64),
        prices=np.full(n_items, np.nan),
        category_ids=np.full(n_items, -1, dtype=np.int64),
        embeddings=embeddings,
    )
