"""The recommendation preview for merchandisers: what a customer would be served on a placement
under a strategy or experiment variant, with every stage's contribution, beside their history.

Nothing here is served or logged: no served list, no exposure. Columns are data
(`PREVIEW_COLUMNS`), so adding one is one entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from catalog.public import Customer, Event
from experiments.public import Variant
from placements.public import (
    Strategy,
    StrategyError,
    default_strategy,
    default_strategy_rolling,
    strategy_parse,
)
from recommendations.contracts import PlacementRequest, Recommendation, ScoredItem
from recommendations.rules.stage import RuleNote, rules_explain
from recommendations.serving import placement_answer
from recommendations.variants import variant_serving

DEFAULT = "default"
# What this customer gets now: their experiment's variant, or the default (their rollout side).
SERVED_NOW = "now"
HISTORY_ROWS = 20


def _routes(item: ScoredItem) -> str:
    return ", ".join(f"{route} {score:.2f}" for route, score in sorted(item.routes.items(), key=lambda kv: -kv[1]))


def _rules(item: ScoredItem) -> str:
    return "; ".join(f"#{t.rule_id} {t.kind}: {t.effect}" for t in item.rules)


def _ranked(item: ScoredItem) -> str:
    return "" if item.ranked_score is None else f"{item.ranked_score:.4f}"


# (header, cell) per column, in order; a cell gets the served item.
PREVIEW_COLUMNS: list[tuple[str, Callable[[ScoredItem], str]]] = [
    ("item", lambda item: item.product_id),
    ("title", lambda item: item.title),
    ("proposed by (route: normalised score)", _routes),
    ("ranker score", _ranked),
    ("rule adjustments", _rules),
    ("final score", lambda item: f"{item.score:.4f}"),
    ("reason", lambda item: item.reason or ""),
]


@dataclass(frozen=True)
class HistoryRow:
    product_id: str
    title: str
    type: str
    timestamp: str


@dataclass(frozen=True)
class Preview:
    placement: str
    strategy_label: str
    recommendation: Recommendation
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    history: tuple[HistoryRow, ...]
    # Active rules that touched no served item, and why (rules_explain).
    rule_notes: tuple[RuleNote, ...] = ()


def strategy_choices() -> list[tuple[str, str]]:
    """(value, label) of the strategies a preview can use: the default and every variant."""
    variants = Variant.objects.select_related("experiment").order_by("experiment__key", "key")
    return [(SERVED_NOW, "what this customer is served now"), (DEFAULT, "default strategy")] + [
        (str(v.pk), f"{v.experiment.key} / {v.key} ({v.experiment.status})") for v in variants
    ]


def strategy_for(*, choice: str, placement: str, customer_id: str | None = None) -> tuple[Strategy, str]:
    """The strategy of a `strategy_choices` value on `placement` (for this customer) and its label."""
    if choice == SERVED_NOW:
        return served_now(placement=placement, customer_id=customer_id)
    if choice in ("", DEFAULT):
        strategy = default_strategy(placement)
        return strategy, f"default strategy ({strategy.name})"
    variant = Variant.objects.select_related("experiment").filter(pk=int(choice)).first() if choice.isdigit() else None
    if variant is None:
        raise ValueError(f"no variant {choice!r}")
    label = f"{variant.experiment.key}/{variant.key}"
    try:
        return strategy_parse(variant.config, name=label), label
    except StrategyError as exc:
        raise ValueError(f"variant {variant}: {exc}") from exc


def served_now(*, placement: str, customer_id: str | None) -> tuple[Strategy, str]:
    """The strategy serving this customer now, and why: their experiment and variant, or the
    placement's default version (and which side of a rollout they are on)."""
    served = variant_serving(placement=placement, customer_id=customer_id, k=1)
    assignment = served.assignment
    if assignment is not None and assignment.teams is not None:
        first, second = (team.variant_key for team in assignment.teams)
        label = (
            f"served now: interleaving experiment {assignment.experiment_key} — {first}'s list shown; the customer "
            f"gets it merged with {second}'s (team-draft)"
        )
        return served.strategy, label
    if assignment is not None:
        label = f"served now: experiment {assignment.experiment_key}, variant {assignment.variant_key}"
        return served.strategy, label
    everyone = default_strategy(placement)
    if served.strategy.name != everyone.name:
        return (
            served.strategy,
            f"served now: {served.strategy.name}, the rolling-out version (this customer is in its share)",
        )
    rolling = " (outside the rolling-out version's share)" if default_strategy_rolling(placement) else ""
    return served.strategy, f"served now: the default {served.strategy.name}{rolling}, no experiment"


def recommendation_preview(
    *,
    placement: str,
    customer_id: str | None,
    k: int = 10,
    strategy_choice: str = DEFAULT,
    product_id: str = "",
    query: str = "",
    category: str | None = None,
) -> Preview:
    """Run the serving pipeline for `placement` without serving: home feed (customer), similar
    items (`product_id`) or search (`query`). Raises ValueError / UnknownProduct on bad input."""
    strategy, label = strategy_for(choice=strategy_choice, placement=placement, customer_id=customer_id)
    recommendation = placement_answer(
        request=PlacementRequest(
            placement=placement,
            customer_id=customer_id,
            k=k,
            category=category,
            query=query,
            product_id=product_id,
            basket=tuple(part.strip() for part in product_id.split(",") if part.strip()),
        ),
        strategy=strategy,
    )
    return Preview(
        placement=placement,
        strategy_label=label,
        recommendation=recommendation,
        headers=("#", *(header for header, _ in PREVIEW_COLUMNS)),
        rows=tuple(
            (str(position), *(cell(item) for _, cell in PREVIEW_COLUMNS))
            for position, item in enumerate(recommendation.items, start=1)
        ),
        history=customer_recent_history(customer_id=customer_id),
        rule_notes=tuple(
            rules_explain(
                served=recommendation.items,
                k=k,
                placement=placement,
                customer_id=customer_id,
                apply_rules=strategy.rules,
                category_path=category,
            )
        ),
    )


def customer_recent_history(*, customer_id: str | None, limit: int = HISTORY_ROWS) -> tuple[HistoryRow, ...]:
    if not customer_id:
        return ()
    events = (
        Event.objects.filter(customer__external_id=customer_id)
        .select_related("product")
        .order_by("-timestamp", "-id")[:limit]
    )
    return tuple(
        HistoryRow(
            product_id=e.product.external_id,
            title=e.product.title,
            type=e.type,
            timestamp=f"{e.timestamp:%Y-%m-%d %H:%M}",
        )
        for e in events
    )


def customer_search(*, prefix: str, limit: int = 20) -> list[str]:
    """Customer ids starting with `prefix` (the preview's autocomplete)."""
    if not prefix:
        return []
    return list(
        Customer.objects.filter(external_id__startswith=prefix)
        .order_by("external_id")
        .values_list("external_id", flat=True)[:limit]
    )
