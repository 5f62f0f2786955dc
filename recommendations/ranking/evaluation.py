"""The rankers' rows of the offline evaluation, trained in memory on the training events only.

The ranker is trained as `train_ranker` would train it at the cutoff: labels from the last
`LABEL_WINDOW_DAYS` of the training events, features from the events before them (all before
the cutoff). It then reorders each evaluated customer's top fused candidates, built from routes
trained on everything before the cutoff, with features as of the cutoff.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from recommendations.evaluation.split import Split
from recommendations.evaluation.strategies import TrainedRoutes
from recommendations.ranking.features import (
    Catalog,
    candidate_lists_build,
    customer_state_build,
    features_compute,
    item_state_build,
    reference_time_of,
)
from recommendations.ranking.training import (
    RankerTrainingError,
    fused_candidates,
    importance_top,
    label_time_before,
    ranked_lists,
    ranker_fit,
    ranker_scores,
    training_data_build,
)
from recommendations.recall.events import interaction_matrix

PREFIX = "ranker_"


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
) -> tuple[dict[str, list[list[int]]], dict]:
    """Top-`k` lists of `ranker_<feature set>` for every evaluated user, and what was trained.

    When the training events cannot train a ranker, no lists come back and the info says why.
    """
    import lightgbm as lgb

    clock = reference_time_of(events=split.train)
    try:
        data = training_data_build(
            interactions=split.train,
            catalog=catalog,
            label_time=label_time_before(clock=clock),
            weights=weights,
        )
        fitted = {feature_set: ranker_fit(data=data, feature_set=feature_set) for feature_set in feature_sets}
    except RankerTrainingError as exc:
        return {}, {"skipped": str(exc)}
    seen = interaction_matrix(interactions=split.train)
    if include_seen:
        seen = seen.multiply(0).tocsr()
    fused = fused_candidates(trained=trained, users=split.users, seen=seen, weights=weights, per_route=per_route)
    lists = candidate_lists_build(users=split.users.tolist(), fused_lists=fused)
    items = item_state_build(events=split.train, reference_time=clock)
    customers = customer_state_build(events=split.train, catalog=catalog, reference_time=clock)
    rankings: dict[str, list[list[int]]] = {}
    info: dict = {"training": data.windows | {"label_time": _iso(data.windows["label_time"])}}
    for feature_set in feature_sets:
        features = features_compute(
            lists=lists, items=items, customers=customers, catalog=catalog, feature_set=feature_set
        )
        scores = ranker_scores(model=lgb.Booster(model_str=fitted[feature_set].model), features=features)
        rankings[PREFIX + feature_set] = [ranked[:k] for ranked in ranked_lists(lists=lists, scores=scores)]
        info[PREFIX + feature_set] = {
            "validation": fitted[feature_set].validation_metrics,
            "training_seconds": round(fitted[feature_set].training_seconds, 2),
            "top_features": dict(importance_top(importance=fitted[feature_set].feature_importance, n=8)),
        }
    return rankings, info


def catalog_from_embeddings(*, n_items: int, embeddings: np.ndarray | None) -> Catalog:
    """A catalog knowing only embeddings (no prices, no categories), for arrays-only runs."""
    from recommendations.ranking.features import catalog_build

    return catalog_build(
        product_pks=np.arange(n_items, dtype=np.int64),
        prices=np.full(n_items, np.nan),
        category_ids=np.full(n_items, -1, dtype=np.int64),
        embeddings=embeddings,
    )


def _iso(seconds: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC).isoformat()
