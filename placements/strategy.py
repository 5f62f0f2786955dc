"""A strategy: how a placement's list is made, as plain data, and the JSON form operators write.

    {"routes": {"itemcf": 1.0, "semantic": 0.5, "popularity": 0.1},
     "candidates_per_route": 200, "k": 10,
     "ranker": "fused", "rules": null, "reasons": null, "llm_rerank": null}

`routes` is required; the rest is optional. `ranker` names a learned ranker (its active model
reorders the fused candidates; null or "fused" keeps the fused order). `rules` turns the
merchandising rules off with false (null or true: on). `reasons`: null (the placement's prompt
pool), false (no reasons) or a reason template's name. `llm_rerank`: null (off) or how many top
items a language model reorders (2 to 50). On the search placement `search` picks the algorithm:
"semantic" (the query's embedding against the catalog's), "keyword" (full-text) or "hybrid" (SKU,
brand and title matching fused with the semantic matches above a minimum similarity);
the similar-items placement weighs its two routes, itemcf and semantic.

`strategy_parse` checks the shape; whether a named ranker or template exists is checked by the
functions the engine registers with `strategy_check_register` (this module knows no engine).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from placements.placement import Placement

# The recall routes a strategy may weight, in the order the ranker's features list them.
ROUTES = ("itemcf", "semantic", "popularity", "cf")
FUSED = "fused"
RANKER_NAME = re.compile(r"[\w.-]{1,100}")
TEMPLATE_NAME = re.compile(r"[-a-zA-Z0-9_]{1,100}")
MAX_CANDIDATES_PER_ROUTE = 2000
MAX_K = 100
MAX_RERANK = 50
KEYS = frozenset({"routes", "candidates_per_route", "k", "ranker", "rules", "reasons", "llm_rerank", "search"})
SEARCH_SEMANTIC = "semantic"
SEARCH_KEYWORD = "keyword"
SEARCH_HYBRID = "hybrid"
SEARCH_ALGORITHMS = (SEARCH_SEMANTIC, SEARCH_KEYWORD, SEARCH_HYBRID)


class StrategyError(ValueError):
    """A strategy the engine cannot serve; the message names the key and says why."""


@dataclass(frozen=True)
class Strategy:
    """Recall routes with weights, candidates per route, the ranker, rules, reasons and rerank.

    The default strategy is one, and so is every experiment variant.
    """

    name: str = FUSED
    routes: dict[str, float] = field(
        default_factory=lambda: {"itemcf": 1.0, "cf": 1.0, "semantic": 0.5, "popularity": 0.1}
    )
    candidates_per_route: int = 100
    # How many items it serves; None: as many as the request asks for.
    k: int | None = None
    # Name of the learned ranker whose active model reorders the fused candidates; None: fused order.
    ranker: str | None = None
    # Merchandising rules on; stock and hidden items are filtered either way.
    rules: bool = True
    # Reasons: the reason template's name (None: the placement's pool), whether reasons are written
    # at all, and how many top items a language model reorders (None: off).
    reason_template: str | None = None
    reasons: bool = True
    llm_rerank_top_n: int | None = None
    # The search placement's algorithm (SEARCH_ALGORITHMS).
    search: str = SEARCH_SEMANTIC


def strategy_parse(config: Any, *, name: str = FUSED) -> Strategy:
    """Validate a strategy's JSON form; raises StrategyError naming the first problem."""
    if not isinstance(config, Mapping):
        raise StrategyError("the config must be a JSON object")
    unknown = sorted(set(config) - KEYS)
    if unknown:
        raise StrategyError(f"unknown keys {', '.join(unknown)}; allowed: {', '.join(sorted(KEYS))}")
    routes = _routes_parse(config.get("routes"))
    ranker = config.get("ranker")
    if ranker is not None and (not isinstance(ranker, str) or not RANKER_NAME.fullmatch(ranker)):
        raise StrategyError(f"'ranker' must be a ranker's name (letters, digits, . _ -) or null, got {ranker!r}")
    rules = config.get("rules")
    if rules is not None and not isinstance(rules, bool):
        raise StrategyError(f"'rules' must be true (merchandising rules on, the default), false or null, got {rules!r}")
    reasons = config.get("reasons")
    if reasons not in (None, False) and (not isinstance(reasons, str) or not TEMPLATE_NAME.fullmatch(reasons)):
        raise StrategyError(f"'reasons' must be null, false or a reason template's name, got {reasons!r}")
    rerank = config.get("llm_rerank")
    if rerank is not None and (
        isinstance(rerank, bool) or not isinstance(rerank, int) or not 2 <= rerank <= MAX_RERANK
    ):
        raise StrategyError(f"'llm_rerank' must be null or an integer from 2 to {MAX_RERANK}, got {rerank!r}")
    search = config.get("search")
    if search is not None and search not in SEARCH_ALGORITHMS:
        raise StrategyError(f"'search' must be null or one of {', '.join(SEARCH_ALGORITHMS)}, got {search!r}")
    candidates = _bounded_int(config, "candidates_per_route", MAX_CANDIDATES_PER_ROUTE)
    return Strategy(
        name=name,
        routes=routes,
        **({} if candidates is None else {"candidates_per_route": candidates}),
        k=_bounded_int(config, "k", MAX_K),
        ranker=None if ranker in (None, FUSED) else ranker,
        rules=rules is not False,
        reasons=reasons is not False,
        reason_template=reasons if isinstance(reasons, str) else None,
        llm_rerank_top_n=rerank,
        search=search or SEARCH_SEMANTIC,
    )


def strategy_json(strategy: Strategy) -> dict[str, Any]:
    """The JSON form of `strategy` (what `strategy_parse` reads back to an equal strategy)."""
    return {
        "routes": dict(strategy.routes),
        "candidates_per_route": strategy.candidates_per_route,
        "k": strategy.k,
        "ranker": strategy.ranker or FUSED,
        "rules": strategy.rules,
        "reasons": strategy.reason_template if strategy.reasons else False,
        "llm_rerank": strategy.llm_rerank_top_n,
        "search": strategy.search,
    }


def _routes_parse(routes: Any) -> dict[str, float]:
    if not isinstance(routes, Mapping) or not routes:
        raise StrategyError(f"'routes' must be an object of route weights, e.g. {{\"{ROUTES[0]}\": 1.0}}")
    for route, weight in routes.items():
        if route not in ROUTES:
            raise StrategyError(f"unknown route {route!r}; routes: {', '.join(ROUTES)}")
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not math.isfinite(weight) or weight < 0:
            raise StrategyError(f"route {route!r}: the weight must be a number >= 0, got {weight!r}")
    if not any(weight > 0 for weight in routes.values()):
        raise StrategyError("at least one route needs a weight above 0")
    return {route: float(weight) for route, weight in routes.items()}


def _bounded_int(config: Mapping[str, Any], key: str, maximum: int) -> int | None:
    value = config.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise StrategyError(f"{key!r} must be an integer from 1 to {maximum}, got {value!r}")
    return value


def built_in_strategy(placement: str) -> Strategy:
    """What a placement serves while no default version is stored: the home feed's fused routes;
    similar items by item-CF and semantic neighbours (the same weights); search hybrid (lexical and
    semantic matches fused); bought together by the co-occurrence routes."""
    if placement == Placement.SIMILAR_ITEMS:
        return Strategy(name="similar")
    if placement == Placement.SEARCH:
        # Hybrid: on the demo's labelled queries it found SKUs and typo'd titles semantic search
        # missed (NDCG@10 0.89 against 0.52, bench/search_quality.py).
        return Strategy(name="search", routes={"semantic": 1.0}, search=SEARCH_HYBRID)
    if placement == Placement.BOUGHT_TOGETHER:
        # What was bought with the basket: co-occurrence routes only, popular items when they
        # know nothing of it.
        return Strategy(name="bought_together", routes={"itemcf": 1.0, "cf": 1.0, "popularity": 0.05})
    return Strategy()


# Checks against what exists now (a named ranker is active, a named template is live); the
# recommendation engine registers them when its app is ready.
_checks: list[Callable[[Strategy], None]] = []


def strategy_check_register(check: Callable[[Strategy], None]) -> None:
    """Add a check that raises StrategyError when a strategy cannot be served now."""
    if check not in _checks:
        _checks.append(check)


def strategy_check(strategy: Strategy) -> None:
    """Run the registered checks; raises the first StrategyError."""
    for check in _checks:
        check(strategy)
