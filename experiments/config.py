"""A variant's strategy config: plain JSON, checked against what the engine offers today.

    {"routes": {"itemcf": 1.0, "semantic": 0.5, "popularity": 0.1},
     "candidates_per_route": 200, "k": 10,
     "ranker": "fused", "rules": null, "reasons": null, "llm_rerank": null}

`routes` is required; the rest is optional. `ranker` names a learned ranker (its active model
reorders the fused candidates; null or "fused" keeps the fused order) — the name's shape is
checked here, its existence by `experiments.services` against the trained rankers. `rules`
turns the merchandising rules off with false (null or true: on). `reasons`: null (the
placement's prompt pool), false (no reasons) or a reason template's name. `llm_rerank`: null
(off) or how many top items a language model reorders (2 to 50).

The route names come from recommendations.contracts — the cross-app contract module, pure
data — so a variant can never name a route the serving pipeline does not have.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from recommendations.contracts import ROUTES

FUSED = "fused"
RANKER_NAME = re.compile(r"[\w.-]{1,100}")
MAX_CANDIDATES_PER_ROUTE = 2000
MAX_K = 100
KEYS = frozenset({"routes", "candidates_per_route", "k", "ranker", "rules", "reasons", "llm_rerank"})
TEMPLATE_NAME = re.compile(r"[-a-zA-Z0-9_]{1,100}")
MAX_RERANK = 50


class ConfigError(ValueError):
    """A config the engine cannot serve; the message names the key and says why."""


@dataclass(frozen=True)
class VariantStrategy:
    """A validated config: what serving needs to build its `Strategy`."""

    routes: dict[str, float]
    candidates_per_route: int | None
    k: int | None
    # A learned ranker's name; None: the fused order.
    ranker: str | None
    # Whether the merchandising rules apply (stock and hidden items are filtered either way).
    rules: bool = True
    # Reasons: on with the pool (True, None), off (False, None) or on with a named template.
    reasons: bool = True
    reason_template: str | None = None
    llm_rerank_top_n: int | None = None


def variant_config_parse(config: Any) -> VariantStrategy:
    """Validate a variant's config; raises ConfigError naming the first problem."""
    if not isinstance(config, Mapping):
        raise ConfigError("the config must be a JSON object")
    unknown = sorted(set(config) - KEYS)
    if unknown:
        raise ConfigError(f"unknown keys {', '.join(unknown)}; allowed: {', '.join(sorted(KEYS))}")
    routes = config.get("routes")
    if not isinstance(routes, Mapping) or not routes:
        raise ConfigError(f"'routes' must be an object of route weights, e.g. {{\"{ROUTES[0]}\": 1.0}}")
    for route, weight in routes.items():
        if route not in ROUTES:
            raise ConfigError(f"unknown route {route!r}; routes: {', '.join(ROUTES)}")
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not math.isfinite(weight) or weight < 0:
            raise ConfigError(f"route {route!r}: the weight must be a number >= 0, got {weight!r}")
    if not any(weight > 0 for weight in routes.values()):
        raise ConfigError("at least one route needs a weight above 0")
    ranker = config.get("ranker")
    if ranker is not None and (not isinstance(ranker, str) or not RANKER_NAME.fullmatch(ranker)):
        raise ConfigError(f"'ranker' must be a ranker's name (letters, digits, . _ -) or null, got {ranker!r}")
    rules = config.get("rules")
    if rules is not None and not isinstance(rules, bool):
        raise ConfigError(f"'rules' must be true (merchandising rules on, the default), false or null, got {rules!r}")
    reasons = config.get("reasons")
    if reasons not in (None, False) and (not isinstance(reasons, str) or not TEMPLATE_NAME.fullmatch(reasons)):
        raise ConfigError(f"'reasons' must be null, false or a reason template's name, got {reasons!r}")
    rerank = config.get("llm_rerank")
    if rerank is not None and (
        isinstance(rerank, bool) or not isinstance(rerank, int) or not 2 <= rerank <= MAX_RERANK
    ):
        raise ConfigError(f"'llm_rerank' must be null or an integer from 2 to {MAX_RERANK}, got {rerank!r}")
    return VariantStrategy(
        routes={route: float(weight) for route, weight in routes.items()},
        candidates_per_route=_bounded_int(config, "candidates_per_route", MAX_CANDIDATES_PER_ROUTE),
        k=_bounded_int(config, "k", MAX_K),
        ranker=None if ranker in (None, FUSED) else ranker,
        rules=rules is not False,
        reasons=reasons is not False,
        reason_template=reasons if isinstance(reasons, str) else None,
        llm_rerank_top_n=rerank,
    )


def _bounded_int(config: Mapping[str, Any], key: str, maximum: int) -> int | None:
    value = config.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise ConfigError(f"{key!r} must be an integer from 1 to {maximum}, got {value!r}")
    return value
