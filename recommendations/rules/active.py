"""The active merchandising rules as plain data, cached per process like the experiments' snapshot.

Two queries every `CACHE_SECONDS` at most; an admin edit made in this process is seen at once
(`rules_forget`), one made elsewhere within seconds. Rules are indexed by target (item id, brand,
category path, attribute value) so matching a candidate costs a few dict lookups, whatever the
number of rules.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from catalog.public import PATH_SEPARATOR
from recommendations.models import MerchRule
from recsite.snapshot import CachedSnapshot

CACHE_SECONDS = 5.0


@dataclass(frozen=True)
class ActiveRule:
    """One rule: its scope (which requests), targets (which items) and parameters."""

    id: int
    name: str
    kind: str
    placement: str = ""
    context_category: str | None = None
    segment: tuple[str, str] | None = None
    starts_at: dt.datetime | None = None
    ends_at: dt.datetime | None = None
    product_pk: int | None = None
    position: int | None = None
    target_category: str | None = None
    target_brand: str = ""
    target_attribute: tuple[str, str] | None = None
    item_ids: frozenset[str] = frozenset()
    multiplier: float = 1.0
    max_per_category: int | None = None
    top_k: int | None = None
    mmr_lambda: float = 0.7

    def applies_to(self, *, placement: str, category: str | None, segment: dict | None, now: dt.datetime) -> bool:
        """Whether this rule is in scope for a request."""
        return self.scope_miss(placement=placement, category=category, segment=segment, now=now) is None

    def scope_miss(self, *, placement: str, category: str | None, segment: dict | None, now: dt.datetime) -> str | None:
        """Why this rule is out of scope for a request (None: it applies)."""
        if self.placement and self.placement != placement:
            return f"it is for the {self.placement} placement"
        if self.starts_at is not None and now < self.starts_at:
            return f"it starts at {self.starts_at:%Y-%m-%d %H:%M}"
        if self.ends_at is not None and now >= self.ends_at:
            return f"it ended at {self.ends_at:%Y-%m-%d %H:%M}"
        if self.context_category is not None and not path_within(category or "", self.context_category):
            return f"it applies within the category {self.context_category!r} only"
        if self.segment is not None:
            key, value = self.segment
            if segment is None or str(segment.get(key, "")) != value:
                return f"it is for customers with {key} = {value!r}"
        return None

    def matches(self, *, product_id: str, category_path: str, brand: str, attributes: dict) -> bool:
        """Whether an item meets every target this rule names (a rule naming none matches nothing)."""
        named = False
        if self.item_ids:
            named = True
            if product_id not in self.item_ids:
                return False
        if self.target_brand:
            named = True
            if brand != self.target_brand:
                return False
        if self.target_category is not None:
            named = True
            if not path_within(category_path, self.target_category):
                return False
        if self.target_attribute is not None:
            named = True
            key, value = self.target_attribute
            if str(attributes.get(key, "")) != value:
                return False
        return named


def path_within(path: str, ancestor: str) -> bool:
    return path == ancestor or path.startswith(ancestor + PATH_SEPARATOR)


def path_ancestors(path: str) -> list[str]:
    """`A > B > C` → [`A`, `A > B`, `A > B > C`]."""
    parts = path.split(PATH_SEPARATOR) if path else []
    return [PATH_SEPARATOR.join(parts[: i + 1]) for i in range(len(parts))]


@dataclass(frozen=True)
class RuleSet:
    """All active rules, with the item-touching ones indexed by one of their targets."""

    rules: tuple[ActiveRule, ...] = ()
    by_item: dict[str, tuple[ActiveRule, ...]] = field(default_factory=dict)
    by_brand: dict[str, tuple[ActiveRule, ...]] = field(default_factory=dict)
    by_category: dict[str, tuple[ActiveRule, ...]] = field(default_factory=dict)
    by_attribute: dict[tuple[str, str], tuple[ActiveRule, ...]] = field(default_factory=dict)
    attribute_keys: tuple[str, ...] = ()
    pinned_pks: tuple[int, ...] = ()
    has_segments: bool = False

    def candidates_for(
        self, *, product_id: str, category_path: str, brand: str, attributes: dict
    ) -> tuple[ActiveRule, ...]:
        """The rules one of whose targets this item meets (check `matches` for the others); a
        rule may appear twice. Indexes left empty cost nothing, which keeps the common case fast."""
        found: tuple[ActiveRule, ...] = self.by_item.get(product_id, ())
        if brand and self.by_brand:
            found += self.by_brand.get(brand, ())
        if category_path and self.by_category:
            for ancestor in path_ancestors(category_path):
                found += self.by_category.get(ancestor, ())
        for key in self.attribute_keys:
            if key in attributes:
                found += self.by_attribute.get((key, str(attributes[key])), ())
        return found


# Kinds whose targets select items (pins name one product; caps and MMR touch the whole list).
TARGETED_KINDS = ("boost", "bury", "exclude")


def ruleset_build(rules: list[ActiveRule]) -> RuleSet:
    """Index `rules` by target; each rule is filed under one target (the most selective one)."""
    by_item: dict[str, list[ActiveRule]] = defaultdict(list)
    by_brand: dict[str, list[ActiveRule]] = defaultdict(list)
    by_category: dict[str, list[ActiveRule]] = defaultdict(list)
    by_attribute: dict[tuple[str, str], list[ActiveRule]] = defaultdict(list)
    for rule in rules:
        if rule.kind not in TARGETED_KINDS:
            continue
        if rule.item_ids:
            for item_id in rule.item_ids:
                by_item[item_id].append(rule)
        elif rule.target_brand:
            by_brand[rule.target_brand].append(rule)
        elif rule.target_attribute is not None:
            by_attribute[rule.target_attribute].append(rule)
        elif rule.target_category is not None:
            by_category[rule.target_category].append(rule)
    return RuleSet(
        rules=tuple(rules),
        by_item={k: tuple(v) for k, v in by_item.items()},
        by_brand={k: tuple(v) for k, v in by_brand.items()},
        by_category={k: tuple(v) for k, v in by_category.items()},
        by_attribute={k: tuple(v) for k, v in by_attribute.items()},
        attribute_keys=tuple(sorted({key for key, _ in by_attribute})),
        pinned_pks=tuple(sorted({r.product_pk for r in rules if r.kind == "pin" and r.product_pk is not None})),
        has_segments=any(r.segment is not None for r in rules),
    )


def rule_from_model(rule) -> ActiveRule:
    """A `MerchRule` row as plain data (category paths instead of ids)."""
    return ActiveRule(
        id=rule.pk or 0,
        name=rule.name,
        kind=rule.kind,
        placement=rule.placement,
        context_category=rule.context_category.path if rule.context_category_id else None,
        segment=(rule.segment_key, rule.segment_value) if rule.segment_key else None,
        starts_at=rule.starts_at,
        ends_at=rule.ends_at,
        product_pk=rule.product_id,
        position=rule.position,
        target_category=rule.target_category.path if rule.target_category_id else None,
        target_brand=rule.target_brand,
        target_attribute=(rule.target_attribute, rule.target_attribute_value) if rule.target_attribute else None,
        item_ids=frozenset(rule.item_id_list()),
        multiplier=rule.multiplier if rule.multiplier is not None else 1.0,
        max_per_category=rule.max_per_category,
        top_k=rule.top_k,
        mmr_lambda=rule.mmr_lambda if rule.mmr_lambda is not None else 0.7,
    )


def rules_active() -> RuleSet:
    """The active rules, from a snapshot at most CACHE_SECONDS old."""
    return _rules.get()


def rules_load() -> RuleSet:
    rows = MerchRule.objects.filter(is_active=True).select_related("context_category", "target_category")
    return ruleset_build([rule_from_model(rule) for rule in rows])


def rules_forget() -> None:
    """Drop this process's snapshot (after an edit made here)."""
    _rules.forget()


# The loader is looked up at each load, as before, so `rules_load` stays the one place to patch.
_rules: CachedSnapshot[RuleSet] = CachedSnapshot(lambda: rules_load(), max_age=CACHE_SECONDS)
