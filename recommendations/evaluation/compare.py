"""Strategies side by side under the offline protocol: one split, routes trained once, each
strategy's own route weights fused, and its ranker (by feature set) reordering them. Pure.

`evaluation_run` compares the routes and rankers of one weighting; the gate compares whole
strategies (a candidate and the serving default), so each arm here carries its own weights.

Memory: as `evaluation_run`'s. The routes score a block of users at a time within
`strategies.BLOCK_BYTES`; an arm's ranker is trained within `config.memory_budget` and scores
`rankers.SCORING_BLOCK` customers at a time. Arms with a ranker are trained one after the other.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from recommendations.contracts import Interactions
from recommendations.evaluation import rankers as ranker_evaluation
from recommendations.evaluation.metrics import aggregate_metrics
from recommendations.evaluation.runner import (
    EvaluationConfig,
    EvaluationError,
    EvaluationResult,
    evaluation_split,
    training_cut,
)
from recommendations.evaluation.split import Split
from recommendations.evaluation.strategies import (
    ROUTES,
    TrainedRoutes,
    fused_ranking,
    masked_route_blocks,
    routes_train,
)
from recommendations.ranking.features import FEATURE_SETS, Catalog
from recsite.memory import peak_rss_mb


@dataclass(frozen=True)
class Arm:
    """One strategy as the protocol can evaluate it offline: its routes' weights, candidates per
    route, and the feature set of its ranker (None: the fused order)."""

    routes: Mapping[str, float]
    candidates_per_route: int
    feature_set: str | None = None


def strategies_compare(
    *,
    interactions: Interactions,
    embeddings: np.ndarray | None,
    arms: Mapping[str, Arm],
    config: EvaluationConfig,
    catalog: Catalog | None = None,
) -> EvaluationResult:
    """Each arm's metrics at `config.k` on the same split and the same users.

    `protocol["arms"][name]["ranker"]` says for each arm with a feature set whether its ranker
    reordered the list, and why not when it could not be trained (the fused order is measured then).
    """
    if config.k < 1:
        raise EvaluationError("k must be at least 1")
    unknown = sorted({arm.feature_set for arm in arms.values() if arm.feature_set} - set(FEATURE_SETS))
    if unknown:
        raise EvaluationError(f"unknown ranker feature sets: {', '.join(unknown)}")
    if len(interactions.users) == 0:
        raise EvaluationError("there are no events to evaluate on")
    split, protocol = evaluation_split(interactions=interactions, config=config)
    if len(split.users) == 0:
        raise EvaluationError("no user has both a training event and a new positive test event")

    started = time.perf_counter()
    with_cf = any(arm.routes.get("cf", 0) > 0 for arm in arms.values())
    trained = routes_train(train=split.train, embeddings=embeddings, with_cf=with_cf, clock=split.clock)
    routes_seconds = time.perf_counter() - started
    rankings, seconds = _fused_rankings(split=split, trained=trained, arms=arms, config=config)
    described = {
        name: {"routes": dict(arm.routes), "candidates_per_route": arm.candidates_per_route}
        for name, arm in arms.items()
    }
    for name, arm in arms.items():
        if arm.feature_set is None:
            continue
        ranked, info = ranker_evaluation.ranker_rankings(
            split=split,
            trained=trained,
            catalog=catalog
            or ranker_evaluation.catalog_from_embeddings(n_items=interactions.n_items, embeddings=embeddings),
            feature_sets=[arm.feature_set],
            weights=arm.routes,
            per_route=arm.candidates_per_route,
            k=config.k,
            include_seen=config.include_seen,
            cut=training_cut(config=config, interactions=interactions, protocol=protocol),
            seed=config.seed,
            candidates=config.rank_candidates,
            rounds=config.rounds,
            memory_budget=config.memory_budget,
        )
        key = ranker_evaluation.PREFIX + arm.feature_set
        if key in ranked:
            rankings[name] = ranked[key]
            seconds[name] += info[key]["seconds"]
            described[name]["ranker"] = {"feature_set": arm.feature_set, "applied": True, "training": info["training"]}
        else:
            # Never silently: the fused order is what was measured, and the row says so.
            described[name]["ranker"] = {"feature_set": arm.feature_set, "applied": False, "why": info["skipped"]}
    results = {
        name: aggregate_metrics(rankings=rankings[name], truths=split.truths, k=config.k, n_items=interactions.n_items)
        # Training the routes is shared: every arm counts it, as serving each alone would.
        | {"seconds": round(seconds[name] + routes_seconds, 2)}
        for name in arms
    }
    protocol |= {
        "k": config.k,
        "include_seen": config.include_seen,
        "events": int(len(interactions.users)),
        "train_events": int(len(split.train.users)),
        "test_events": split.test_events,
        "users_evaluated": int(len(split.users)),
        "catalog_items": interactions.n_items,
        "embedded_items": int(trained.has_embedding.sum()),
        "arms": described,
        "ranked": "whole catalog minus the user's training items" if not config.include_seen else "whole catalog",
        "routes_seconds": round(routes_seconds, 2),
        "seconds": round(time.perf_counter() - started, 2),
        "peak_rss_mb": peak_rss_mb(),
    }
    return EvaluationResult(protocol=protocol, strategies=results)


def _fused_rankings(
    *, split: Split, trained: TrainedRoutes, arms: Mapping[str, Arm], config: EvaluationConfig
) -> tuple[dict[str, list[list[int]]], dict[str, float]]:
    """Each arm's fused top-K per evaluated user (in `split.users` order), every route scored once
    per block of users for all arms; and each arm's seconds (its routes' scoring included)."""
    needed = [route for route in ROUTES if any(arm.routes.get(route, 0) > 0 for arm in arms.values())]
    rankings: dict[str, list[list[int]]] = {name: [] for name in arms}
    seconds = dict.fromkeys(arms, 0.0)
    blocks = masked_route_blocks(split=split, trained=trained, routes=needed, include_seen=config.include_seen)
    for users, scores, route_seconds in blocks:
        for route, elapsed in route_seconds.items():
            for name, arm in arms.items():
                if arm.routes.get(route, 0) > 0:
                    seconds[name] += elapsed
        for name, arm in arms.items():
            began = time.perf_counter()
            for row in range(len(users)):
                rankings[name].append(
                    fused_ranking(
                        scores={route: scores[route][row] for route in needed},
                        weights=arm.routes,
                        n=arm.candidates_per_route,
                    )[: config.k]
                )
            seconds[name] += time.perf_counter() - began
    return rankings, seconds
