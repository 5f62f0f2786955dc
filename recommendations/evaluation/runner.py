"""The offline evaluation run: split → train every route on training events → rank → measure.

Pure (numpy/scipy, no Django): `manage.py evaluate` loads the events and embeddings and stores the
result; tests call `evaluation_run` directly on hand-made arrays.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field

import numpy as np

from placements.public import Strategy
from recommendations.contracts import Interactions
from recommendations.evaluation import rankers as ranker_evaluation
from recommendations.evaluation.metrics import aggregate_metrics
from recommendations.evaluation.split import (
    DEFAULT_TEST_FRACTION,
    Split,
    default_cutoff,
    split_by_cutoff,
    split_holdout_last,
)
from recommendations.evaluation.strategies import (
    ROUTES,
    STRATEGIES,
    fused_ranking,
    masked_route_blocks,
    routes_train,
    top_items,
)
from recommendations.interactions import SECONDS_PER_DAY
from recommendations.ranking.features import Catalog
from recommendations.ranking.training import MEMORY_BUDGET_BYTES, RANK_CANDIDATES, ROUNDS, TrainingCut
from recsite.memory import peak_rss_mb


class EvaluationError(ValueError):
    """The data cannot be evaluated as asked (no events, no evaluable users, bad arguments)."""


@dataclass(frozen=True)
class EvaluationConfig:
    k: int = 10
    # POSIX seconds; None with no holdout_last picks the default cutoff from the data.
    cutoff: float | None = None
    holdout_last: int | None = None
    include_seen: bool = False
    strategies: tuple[str, ...] = STRATEGIES
    route_weights: dict[str, float] = field(default_factory=lambda: dict(Strategy().routes))
    candidates_per_route: int = Strategy().candidates_per_route
    # The rankers' training seed (LightGBM, the customers sampled and held out for validation).
    seed: int = 42
    # Fused candidates the rankers reorder (the rank stage's RANK_CANDIDATES), and how many times
    # each customer's history is cut for the rankers' training lists.
    rank_candidates: int = RANK_CANDIDATES
    rounds: int = ROUNDS
    # The rankers' training rows may take at most this many bytes (lists are sampled beyond it).
    memory_budget: int = MEMORY_BUDGET_BYTES


@dataclass(frozen=True)
class EvaluationResult:
    protocol: dict
    strategies: dict[str, dict]


def evaluation_run(
    *,
    interactions: Interactions,
    embeddings: np.ndarray | None,
    config: EvaluationConfig,
    catalog: Catalog | None = None,
) -> EvaluationResult:
    """Evaluate every strategy in `config` under DESIGN.md's protocol.

    `embeddings` is items × dims aligned with the interactions' item indices (zero rows for items
    without an embedding), or None. `catalog` gives the rankers prices and categories (none known
    when omitted).
    """
    if config.k < 1:
        raise EvaluationError("k must be at least 1")
    unknown = set(config.strategies) - set(STRATEGIES)
    if unknown:
        raise EvaluationError(f"unknown strategies: {', '.join(sorted(unknown))}")
    if len(interactions.users) == 0:
        raise EvaluationError("there are no events to evaluate on")
    split, protocol = evaluation_split(interactions=interactions, config=config)
    if len(split.users) == 0:
        raise EvaluationError("no user has both a training event and a new positive test event")

    started = time.perf_counter()
    rankers = [name for name in config.strategies if name.startswith(ranker_evaluation.PREFIX)]
    with_cf = "cf" in config.strategies or (
        config.route_weights.get("cf", 0) > 0 and ("fused" in config.strategies or bool(rankers))
    )
    trained = routes_train(train=split.train, embeddings=embeddings, with_cf=with_cf, clock=split.clock)
    routes_seconds = time.perf_counter() - started
    rankings, seconds = _rank(split=split, trained=trained, config=config)
    if rankers:
        ranked, protocol["rankers"] = ranker_evaluation.ranker_rankings(
            split=split,
            trained=trained,
            catalog=catalog
            or ranker_evaluation.catalog_from_embeddings(n_items=interactions.n_items, embeddings=embeddings),
            feature_sets=[name.removeprefix(ranker_evaluation.PREFIX) for name in rankers],
            weights=config.route_weights,
            per_route=config.candidates_per_route,
            k=config.k,
            include_seen=config.include_seen,
            cut=training_cut(config=config, interactions=interactions, protocol=protocol),
            seed=config.seed,
            candidates=config.rank_candidates,
            rounds=config.rounds,
            memory_budget=config.memory_budget,
        )
        rankings |= ranked
        for name in rankers:
            if name in protocol["rankers"]:
                seconds[name] = protocol["rankers"][name]["seconds"]
    results = {
        name: aggregate_metrics(rankings=rankings[name], truths=split.truths, k=config.k, n_items=interactions.n_items)
        | {"seconds": round(seconds.get(name, 0.0), 2)}
        for name in config.strategies
        # A ranker the training events could not train has no row (protocol["rankers"] says why).
        if name in rankings
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
        "fused_weights": dict(config.route_weights),
        "candidates_per_route": config.candidates_per_route,
        "mrr": "reciprocal rank of the first relevant item within the top K, 0 if none",
        "ndcg": "binary gains; ideal DCG over min(K, |truth|)",
        "ranked": "whole catalog minus the user's training items" if not config.include_seen else "whole catalog",
        "routes_seconds": round(routes_seconds, 2),
        "collaborative": None
        if trained.cf is None
        else {"algorithm": trained.cf.algorithm, "params": trained.cf.params, "seconds": round(trained.cf.seconds, 2)},
        "seconds": round(time.perf_counter() - started, 2),
        "peak_rss_mb": peak_rss_mb(),
    }
    return EvaluationResult(protocol=protocol, strategies=results)


def evaluation_split(*, interactions: Interactions, config: EvaluationConfig) -> tuple[Split, dict]:
    """The protocol's split under `config` (the default: a cutoff leaving the last 10% of events
    for testing), and how it was made, for the run's protocol."""
    if config.holdout_last is not None:
        if config.holdout_last < 1:
            raise EvaluationError("--holdout-last must be at least 1")
        split = split_holdout_last(interactions=interactions, n=config.holdout_last, include_seen=config.include_seen)
        return split, {"split": "holdout_last", "holdout_last": config.holdout_last}
    if config.cutoff is None:
        cutoff = default_cutoff(timestamps=interactions.timestamps)
        source = f"default: leaves the last {DEFAULT_TEST_FRACTION:.0%} of events for testing"
    else:
        cutoff, source = config.cutoff, "given"
    split = split_by_cutoff(interactions=interactions, cutoff=cutoff, include_seen=config.include_seen)
    iso = dt.datetime.fromtimestamp(cutoff, tz=dt.UTC).isoformat()
    return split, {"split": "cutoff", "cutoff": iso, "cutoff_source": source}


def training_cut(*, config: EvaluationConfig, interactions: Interactions, protocol: dict) -> TrainingCut:
    """The rankers' training lists cut each customer's history the way the split cuts the test:
    the last N positive events, or visits with labels over as many days as the test period spans."""
    if config.holdout_last is not None:
        return TrainingCut(rule="last", n=config.holdout_last)
    cutoff = dt.datetime.fromisoformat(protocol["cutoff"]).timestamp()
    span_days = (float(interactions.timestamps.max()) - cutoff) / SECONDS_PER_DAY
    return TrainingCut(rule="visit", horizon_days=max(1.0, round(span_days)))


def _rank(*, split: Split, trained, config: EvaluationConfig) -> tuple[dict[str, list[list[int]]], dict[str, float]]:
    """Each strategy's top-K list per evaluated user (same order as `split.users`), and the
    seconds each strategy's scoring took (its routes included)."""
    needed = [
        r
        for r in ROUTES
        if r in config.strategies or ("fused" in config.strategies and config.route_weights.get(r, 0) > 0)
    ]
    names = [name for name in config.strategies if not name.startswith(ranker_evaluation.PREFIX)]
    rankings: dict[str, list[list[int]]] = {name: [] for name in names}
    seconds = dict.fromkeys(names, 0.0)
    blocks = masked_route_blocks(split=split, trained=trained, routes=needed, include_seen=config.include_seen)
    for users, scores, route_seconds in blocks:
        for route, elapsed in route_seconds.items():
            for name in names:
                if name == route or (name == "fused" and config.route_weights.get(route, 0) > 0):
                    seconds[name] += elapsed
        for name in names:
            began = time.perf_counter()
            for row in range(len(users)):
                if name == "fused":
                    ranked = fused_ranking(
                        scores={route: scores[route][row] for route in ROUTES if route in scores},
                        weights=config.route_weights,
                        n=config.candidates_per_route,
                    )[: config.k]
                else:
                    ranked = top_items(scores=scores[name][row], k=config.k).tolist()
                rankings[name].append(ranked)
            seconds[name] += time.perf_counter() - began
    return rankings, seconds
