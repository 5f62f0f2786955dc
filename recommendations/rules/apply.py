"""The rules stage: ranked candidates in, the served top k out, each item saying which rules
touched it. Pure (no database): the caller loads the candidates' data and the active rules.

The order is fixed, so a merchandiser can predict the outcome of rules that overlap:

0. filters (in the candidates' query, `rules.candidates`): out-of-stock items, items hidden for
   this customer, the request's `exclude` and category, purchased items;
1. exclude rules drop the items they target;
2. boost and bury rules multiply the score (several multiply together) and the list is re-sorted;
3. category caps keep at most N items per category in the top k (the rest move down, in order);
4. MMR re-orders the top k by relevance against similarity to the items already placed;
5. pins put their item at their position (after everything else, so a pin lands where it says).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from recommendations.contracts import CatalogRow, RuleTouch, ScoredItem
from recommendations.rules.active import ActiveRule, RuleSet


@dataclass(frozen=True)
class RuleItem:
    """One candidate that passed the filters, with what the rules look at."""

    product_pk: int
    product_id: str
    title: str
    category_path: str
    brand: str
    attributes: dict
    score: float
    routes: dict[str, float]
    # route -> the history item it was proposed from (what the reasons stage explains it by)
    seeds: dict[str, int] = field(default_factory=dict)
    # The reasons' catalog row, when the candidates' query was asked for it.
    catalog: CatalogRow | None = None


@dataclass(frozen=True)
class RuleRequest:
    """What a rule's scope is checked against."""

    placement: str
    category: str | None = None
    segment: dict | None = None
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))


@dataclass
class _Working:
    item: RuleItem
    score: float
    touches: list[RuleTouch] = field(default_factory=list)
    # False for a pinned item no route proposed: it has no ranked score of its own.
    proposed: bool = True


def rules_in_scope(*, ruleset: RuleSet, request: RuleRequest) -> frozenset[int]:
    """Ids of the active rules that apply to this request."""
    return frozenset(
        rule.id
        for rule in ruleset.rules
        if rule.applies_to(
            placement=request.placement, category=request.category, segment=request.segment, now=request.now
        )
    )


def rules_apply(
    *,
    items: Sequence[RuleItem],
    ruleset: RuleSet,
    request: RuleRequest,
    k: int,
    pinned: Mapping[int, RuleItem] | None = None,
    similarity: Mapping[tuple[int, int], float] | None = None,
) -> tuple[ScoredItem, ...]:
    """The top `k` of `items` (best first) after the rules in scope, in the documented order.

    `pinned` holds the pinned products that passed the filters (pk → item); `similarity` the
    cosine similarity of candidate pairs, needed only when an MMR rule is in scope.
    """
    if k <= 0:
        return ()
    in_scope = rules_in_scope(ruleset=ruleset, request=request)
    scoped = [rule for rule in ruleset.rules if rule.id in in_scope]
    pins = sorted(
        (r for r in scoped if r.kind == "pin" and r.product_pk in (pinned or {})),
        key=lambda r: (r.position or 1, r.id),
    )
    pinned_pks = {r.product_pk for r in pins}
    proposed = {i.product_pk: i for i in items if i.product_pk in pinned_pks}
    working = _targeted(items=[i for i in items if i.product_pk not in pinned_pks], ruleset=ruleset, scope=in_scope)
    window = k + len(pins)
    for rule in (r for r in scoped if r.kind == "category_cap"):
        working = _category_cap(working=working, rule=rule, k=rule.top_k or window)
    for rule in (r for r in scoped if r.kind == "mmr"):
        working = _mmr(working=working, rule=rule, k=rule.top_k or window, similarity=similarity or {})
    for rule in pins:
        item = proposed.get(rule.product_pk) or pinned[rule.product_pk]  # type: ignore[index]
        if any(w.item.product_pk == item.product_pk for w in working):
            continue  # two pins for one item: the first position wins
        position = max(1, min(rule.position or 1, len(working) + 1))
        # An item no route proposed takes the score of the slot it lands in.
        score = (
            item.score
            if item.product_pk in proposed
            else (working[position - 1].score if position <= len(working) else 0.0)
        )
        touch = RuleTouch(rule.id, "pin", f"pinned at {position}")
        working.insert(
            position - 1,
            _Working(item=item, score=score, touches=[touch], proposed=item.product_pk in proposed),
        )
    return tuple(_scored(w) for w in working[:k])


def _targeted(*, items: Sequence[RuleItem], ruleset: RuleSet, scope: frozenset[int]) -> list[_Working]:
    """Steps 1 and 2: exclusions, then boosts and buries, re-sorted by the new score (stable)."""
    kept: list[_Working] = []
    rescored = False
    for item in items:
        rules = ruleset.candidates_for(
            product_id=item.product_id, category_path=item.category_path, brand=item.brand, attributes=item.attributes
        )
        if not rules:
            kept.append(_Working(item=item, score=item.score))
            continue
        matched = sorted(
            {
                r
                for r in rules
                if r.id in scope
                and r.matches(
                    product_id=item.product_id,
                    category_path=item.category_path,
                    brand=item.brand,
                    attributes=item.attributes,
                )
            },
            key=lambda r: r.id,
        )
        if any(r.kind == "exclude" for r in matched):
            continue
        working = _Working(item=item, score=item.score)
        for rule in matched:
            working.score *= rule.multiplier
            working.touches.append(RuleTouch(rule.id, rule.kind, f"score ×{rule.multiplier:g}"))
            rescored = True
        kept.append(working)
    if rescored:
        kept.sort(key=lambda w: -w.score)
    return kept


def _category_cap(*, working: list[_Working], rule: ActiveRule, k: int) -> list[_Working]:
    """Step 3: at most `max_per_category` items of one category among the first `k`; the items
    over the cap move behind the top k, keeping their order."""
    cap = rule.max_per_category or 0
    if cap <= 0:
        return working
    head: list[_Working] = []
    moved: list[_Working] = []
    counts: dict[str, int] = {}
    rest = iter(working)
    for w in rest:
        category = w.item.category_path
        if counts.get(category, 0) >= cap:
            w.touches.append(
                RuleTouch(rule.id, "category_cap", f"moved below the top {k} (>{cap} in {category or '-'})")
            )
            moved.append(w)
            continue
        counts[category] = counts.get(category, 0) + 1
        head.append(w)
        if len(head) == k:
            break
    return head + moved + list(rest)


def _mmr(
    *, working: list[_Working], rule: ActiveRule, k: int, similarity: Mapping[tuple[int, int], float]
) -> list[_Working]:
    """Step 4: maximal marginal relevance (Carbonell & Goldstein 1998) over the top `k`: pick, one
    at a time, the item maximising λ·relevance − (1−λ)·(its highest similarity to those picked),
    relevance being the score divided by the best score."""
    head, tail = working[:k], working[k:]
    if len(head) < 2:
        return working
    best = max(w.score for w in head) or 1.0
    lam = rule.mmr_lambda
    picked: list[_Working] = []
    left = list(head)
    while left:

        def gain(w: _Working) -> float:
            pk = w.item.product_pk
            redundancy = max((similarity.get((pk, p.item.product_pk), 0.0) for p in picked), default=0.0)
            return lam * (w.score / best) - (1 - lam) * redundancy

        chosen = max(left, key=gain)
        left.remove(chosen)
        picked.append(chosen)
    for new, w in enumerate(picked):
        old = head.index(w)
        if new != old:
            w.touches.append(RuleTouch(rule.id, "mmr", f"moved {old + 1}→{new + 1}"))
    return picked + tail


def _scored(w: _Working) -> ScoredItem:
    return ScoredItem(
        product_pk=w.item.product_pk,
        product_id=w.item.product_id,
        title=w.item.title,
        score=w.score,
        routes=w.item.routes,
        ranked_score=w.item.score if w.proposed else None,
        rules=tuple(w.touches),
        seeds=w.item.seeds,
        catalog=w.item.catalog,
    )
