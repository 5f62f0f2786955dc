"""The offline gate (issue #14): a strategy (a default version, an experiment variant) against its
placement's serving default, on the same split, stored as an `EvaluationRun`.

The window is the protocol's default, the one `manage.py evaluate` uses: a cutoff leaving the most
recent 10% of events for testing, so the newest behaviour is what both strategies must predict and
the numbers read beside the stored `evaluate` runs.

A strategy's ranker names a stored ranker; the stored model was trained on events that include the
test window, so scoring with it would peek at the answers. The gate instead trains that ranker's
feature set in memory on the training events only (as `evaluate`'s `ranker_<feature set>` rows),
over the strategy's own fused candidates. When that cannot be trained, the fused order is measured
and the run says the ranker was not applied. Merchandising rules, reasons and the LLM rerank are not
part of the offline protocol; the run says so too.

Memory: `compare.strategies_compare`'s bound, with the rankers' training rows within
RANKER_MEMORY_BUDGET_MB (as `evaluate`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from django.conf import settings

from catalog.public import Event
from placements.public import (
    Placement,
    Strategy,
    StrategyError,
    default_strategies_forget,
    default_strategy,
    strategy_json,
    strategy_parse,
)
from recommendations.embeddings.stored import embeddings_load
from recommendations.evaluation.compare import Arm, strategies_compare
from recommendations.evaluation.runner import EvaluationConfig, EvaluationError
from recommendations.interactions import interactions_load
from recommendations.models import EvaluationRun, RankerModel
from recommendations.ranking.features import catalog_load

# The rows of a gate run's `strategies`: the evaluated strategy and the placement's serving default.
STRATEGY = "strategy"
DEFAULT = "default"
K = 10
# What the gate shows side by side, at K.
METRICS = (f"ndcg@{K}", f"recall@{K}", "coverage", "users", "seconds")
NOT_OFFLINE = "merchandising rules, reasons and the LLM rerank are not part of the offline protocol"


def gate_strategy(*, config: Any, name: str, placement: str) -> Strategy:
    """The strategy to evaluate, checked as far as the gate needs before anything is queued;
    raises StrategyError (bad JSON form, unknown placement, a ranker never trained)."""
    if placement not in Placement.values:
        raise StrategyError(f"unknown placement {placement!r}; placements: {', '.join(Placement.values)}")
    strategy = strategy_parse(config, name=name)
    if strategy.ranker is not None and not RankerModel.objects.filter(name=strategy.ranker).exists():
        raise StrategyError(f"no ranker named {strategy.ranker!r} has been trained")
    return strategy


def gate_data_check() -> None:
    """Raises EvaluationError when there is nothing to evaluate on (checked before queueing)."""
    if not Event.objects.exists():
        raise EvaluationError("there are no events to evaluate on")


def gate_run(*, config: Any, name: str, placement: str, source: str = "") -> EvaluationRun:
    """Evaluate `config` and `placement`'s serving default on the latest window and store the run.

    Raises StrategyError for a bad strategy and EvaluationError when the data cannot be evaluated;
    nothing is stored then. `source` says where the strategy comes from (shown with the result).
    """
    started = time.perf_counter()
    strategy = gate_strategy(config=config, name=name, placement=placement)
    # This process's snapshot may be a few seconds old; the gate compares with what serves now.
    default_strategies_forget()
    default = default_strategy(placement)
    strategies = {STRATEGY: strategy, DEFAULT: default}
    arms, rankers = {}, {}
    for role, each in strategies.items():
        arms[role], rankers[role] = _arm(each)
    interactions, product_pks = interactions_load()
    embeddings = embeddings_load(product_pks=product_pks)
    needs_catalog = any(arm.feature_set for arm in arms.values())
    result = strategies_compare(
        interactions=interactions,
        embeddings=embeddings,
        arms=arms,
        config=EvaluationConfig(k=K, memory_budget=settings.RANKER_MEMORY_BUDGET_MB * 2**20),
        catalog=catalog_load() if needs_catalog else None,
    )
    for role, ranker in rankers.items():
        if ranker:
            measured = result.protocol["arms"][role].setdefault("ranker", {})
            measured.update(ranker)
            if measured.get("applied"):
                measured["how"] = "its feature set trained on the training events only (not the stored model)"
    gate = {
        "placement": placement,
        "source": source,
        "window": "the protocol's default: a cutoff leaving the latest 10% of events for testing",
        "not_evaluated": NOT_OFFLINE,
    } | {
        role: {"name": each.name, "config": dict(config) if role == STRATEGY else strategy_json(each)}
        for role, each in strategies.items()
    }
    return EvaluationRun.objects.create(
        protocol=result.protocol | {"gate": gate},
        strategies=result.strategies,
        duration_s=time.perf_counter() - started,
    )


def gate_comparison(run: EvaluationRun) -> list[tuple[str, float | None, float | None, float | None]]:
    """(metric, strategy, default, strategy - default) for a gate run; [] for other runs."""
    if "gate" not in run.protocol:
        return []
    rows = []
    for metric in METRICS:
        mine, theirs = (_value(run.strategies.get(role), metric) for role in (STRATEGY, DEFAULT))
        rows.append((metric, mine, theirs, None if mine is None or theirs is None else mine - theirs))
    return rows


def _value(metrics: Mapping | None, metric: str) -> float | None:
    value = (metrics or {}).get(metric)
    return float(value) if isinstance(value, int | float) else None


def _arm(strategy: Strategy) -> tuple[Arm, dict]:
    """The strategy as the protocol evaluates it, and what was decided about its ranker."""
    arm = Arm(routes=dict(strategy.routes), candidates_per_route=strategy.candidates_per_route)
    if strategy.ranker is None:
        return arm, {}
    # The active version's feature set (the one serving), else the newest version's.
    stored = RankerModel.objects.filter(name=strategy.ranker).order_by("-is_active", "-version").first()
    if stored is None:
        return arm, {"name": strategy.ranker, "applied": False, "why": "no ranker of this name has been trained"}
    return (
        Arm(routes=arm.routes, candidates_per_route=arm.candidates_per_route, feature_set=stored.feature_set),
        {"name": strategy.ranker, "version": stored.version},
    )
