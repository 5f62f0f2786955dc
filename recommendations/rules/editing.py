"""What the rules admin calls: check a rule's fields for its kind, and a dry run that says how
many live candidates an (unsaved) rule would touch."""

from __future__ import annotations

from dataclasses import dataclass

from catalog.public import Product, category_subtree_q
from recommendations.models import ServedList
from recommendations.rules.active import ActiveRule, path_within, rule_from_model

# The dry run replays the rule over this many of the latest served lists.
DRY_RUN_LISTS = 500


def rule_errors(rule) -> dict[str, str]:
    """Field → message for what a `MerchRule` of its kind lacks or gets wrong (empty: valid)."""
    return {**_kind_errors(rule), **_scope_errors(rule)}


def _kind_errors(rule) -> dict[str, str]:
    errors: dict[str, str] = {}
    has_target = bool(rule.item_id_list() or rule.target_brand or rule.target_category_id or rule.target_attribute)
    if rule.kind == "pin":
        if rule.product_id is None:
            errors["product"] = "A pin needs the item to pin."
        if not rule.position:
            errors["position"] = "A pin needs a position (1 = first)."
    elif rule.kind in ("boost", "bury", "exclude"):
        if not has_target:
            errors["item_ids"] = "Name at least one target: items, brand, category or attribute."
        if rule.kind == "boost" and not (rule.multiplier and rule.multiplier > 1):
            errors["multiplier"] = "A boost multiplies the score by more than 1."
        if rule.kind == "bury" and not (rule.multiplier is not None and 0 < rule.multiplier < 1):
            errors["multiplier"] = "A bury multiplies the score by a number between 0 and 1."
    elif rule.kind == "category_cap":
        if not rule.max_per_category:
            errors["max_per_category"] = "A category cap needs the most items per category."
    elif rule.kind == "mmr":
        if rule.mmr_lambda is None or not 0 <= rule.mmr_lambda <= 1:
            errors["mmr_lambda"] = "MMR needs a weight between 0 (diversity only) and 1 (relevance only)."
    return errors


def _scope_errors(rule) -> dict[str, str]:
    errors: dict[str, str] = {}
    if bool(rule.segment_key) != bool(rule.segment_value):
        errors["segment_value"] = "A segment needs both the attribute name and its value."
    if rule.target_attribute_value and not rule.target_attribute:
        errors["target_attribute"] = "Name the attribute the value belongs to."
    if rule.starts_at and rule.ends_at and rule.ends_at <= rule.starts_at:
        errors["ends_at"] = "The end must come after the start."
    return errors


@dataclass(frozen=True)
class DryRun:
    matching_products: int
    lists_checked: int
    lists_affected: int
    items_affected: int


def rule_dry_run(rule) -> DryRun:
    """How much the (possibly unsaved) `rule` would touch: in-stock products its targets select,
    and, over the latest `DRY_RUN_LISTS` served lists of its placement, the lists and served items
    it would change. Scope by customer segment is not replayed (lists keep no customer attributes)."""
    active = rule_from_model(rule)
    lists = ServedList.objects.order_by("-created_at")
    if active.placement:
        lists = lists.filter(placement=active.placement)
    lists = list(lists.values_list("items", "context")[:DRY_RUN_LISTS])
    products = _products(ids={item["id"] for items, _ in lists for item in items})
    lists_affected = items_affected = 0
    for items, context in lists:
        if active.context_category is not None and not _within((context or {}).get("category"), active):
            continue
        if active.kind in ("pin", "category_cap", "mmr"):
            lists_affected += 1  # every list in scope gets the pin or is re-ordered
            continue
        touched = sum(1 for item in items if item["id"] in products and active.matches(**products[item["id"]]))
        lists_affected += bool(touched)
        items_affected += touched
    return DryRun(
        matching_products=_matching_products(active),
        lists_checked=len(lists),
        lists_affected=lists_affected,
        items_affected=items_affected,
    )


def _within(category: str | None, rule: ActiveRule) -> bool:
    return category is not None and path_within(category, rule.context_category or "")


def _products(*, ids: set[str]) -> dict[str, dict]:
    rows = Product.objects.filter(external_id__in=ids).values_list(
        "external_id", "category__path", "brand", "attributes"
    )
    return {
        pid: {"product_id": pid, "category_path": path or "", "brand": brand, "attributes": attrs or {}}
        for pid, path, brand, attrs in rows
    }


def _matching_products(rule: ActiveRule) -> int:
    if rule.kind == "pin":
        return int(rule.product_pk is not None)
    if rule.kind not in ("boost", "bury", "exclude"):
        return 0
    products = Product.objects.filter(in_stock=True)
    named = False
    if rule.item_ids:
        products, named = products.filter(external_id__in=rule.item_ids), True
    if rule.target_brand:
        products, named = products.filter(brand=rule.target_brand), True
    if rule.target_category is not None:
        products, named = products.filter(category_subtree_q(rule.target_category)), True
    if rule.target_attribute is not None:
        key, value = rule.target_attribute
        products, named = products.filter(**{f"attributes__{key}": value}), True
    return products.count() if named else 0
