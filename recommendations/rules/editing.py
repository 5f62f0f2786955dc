"""What the rules admin calls: check a rule's fields for its kind, and a dry run that says how
many live candidates an (unsaved) rule would touch."""

from __future__ import annotations

from dataclasses import dataclass

from catalog.public import Product, category_subtree_q
from recommendations.models import ServedList
from recommendations.rules.active import ActiveRule, path_within, rule_from_model

# The dry run replays the rule over this many of the latest served lists, and shows a few.
DRY_RUN_LISTS = 500
EXAMPLES = 3


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
class DryRunExample:
    """One served list before and after the rule (titles), where the rule can be replayed."""

    before: tuple[str, ...]
    after: tuple[str, ...] | None
    note: str = ""

    @property
    def rows(self) -> list[tuple[int, str, str]]:
        """(position, before, after) for the page; "–" after where the rule is not replayed."""
        after = self.after or ()
        return [
            (position, title, after[position - 1] if position <= len(after) else "–")
            for position, title in enumerate(self.before, start=1)
        ]


@dataclass(frozen=True)
class DryRun:
    matching_products: int
    lists_checked: int
    lists_affected: int
    items_affected: int
    examples: tuple[DryRunExample, ...] = ()
    summary: str = ""


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
    changed: list[list[dict]] = []
    for items, context in lists:
        if active.context_category is not None and not _within((context or {}).get("category"), active):
            continue
        if active.kind in ("pin", "category_cap", "mmr"):
            lists_affected += 1  # every list in scope gets the pin or is re-ordered
            changed.append(items)
            continue
        touched = sum(1 for item in items if item["id"] in products and active.matches(**products[item["id"]]))
        lists_affected += bool(touched)
        items_affected += touched
        if touched:
            changed.append(items)
    run = DryRun(
        matching_products=_matching_products(active),
        lists_checked=len(lists),
        lists_affected=lists_affected,
        items_affected=items_affected,
        examples=_examples(rule=active, lists=changed[:EXAMPLES], products=products),
    )
    return DryRun(**{**run.__dict__, "summary": _summary(rule=active, run=run)})


def _examples(*, rule: ActiveRule, lists: list[list[dict]], products: dict[str, dict]) -> tuple[DryRunExample, ...]:
    """Up to EXAMPLES lists before and after the rule, by title (ids where a product is gone)."""
    pinned = None if rule.product_pk is None else Product.objects.filter(pk=rule.product_pk).first()
    titles = dict(
        Product.objects.filter(external_id__in={i["id"] for items in lists for i in items}).values_list(
            "external_id", "title"
        )
    )
    if pinned is not None:
        titles[pinned.external_id] = pinned.title
    examples = []
    for items in lists:
        before = [item["id"] for item in items]
        after, note = _replay(rule=rule, items=items, products=products, pinned=pinned)
        examples.append(
            DryRunExample(
                before=tuple(titles.get(i, i) for i in before),
                after=None if after is None else tuple(titles.get(i, i) for i in after),
                note=note,
            )
        )
    return tuple(examples)


def _replay(
    *, rule: ActiveRule, items: list[dict], products: dict[str, dict], pinned: Product | None
) -> tuple[list[str] | None, str]:
    """The list's ids after the rule, from the scores it was served with; None where the rule
    needs what a served list does not keep (MMR's embeddings)."""
    ids = [item["id"] for item in items]
    matches = {i for i in ids if i in products and rule.matches(**products[i])}
    if rule.kind == "exclude":
        return [i for i in ids if i not in matches], ""
    if rule.kind in ("boost", "bury"):
        score = {item["id"]: item["score"] * (rule.multiplier if item["id"] in matches else 1.0) for item in items}
        return sorted(ids, key=lambda i: -score[i]), ""
    if rule.kind == "pin" and pinned is not None:
        rest = [i for i in ids if i != pinned.external_id]
        position = max(1, min(rule.position or 1, len(rest) + 1))
        return (rest[: position - 1] + [pinned.external_id] + rest[position - 1 :])[: len(ids)], ""
    if rule.kind == "category_cap" and rule.max_per_category:
        kept: list[str] = []
        moved: list[str] = []
        count: dict[str, int] = {}
        for i in ids:
            category = products.get(i, {}).get("category_path", "")
            count[category] = count.get(category, 0) + 1
            (kept if count[category] <= rule.max_per_category else moved).append(i)
        return kept + moved, ""
    return None, "re-ordered by embedding similarity when served (not replayed here)"


def _summary(*, rule: ActiveRule, run: DryRun) -> str:
    """The counts in words."""
    where = f"the {rule.placement} placement" if rule.placement else "every placement"
    if not run.lists_checked:
        return f"No lists have been served on {where} yet, so nothing can be replayed; it would apply from now on."
    head = f"Of the latest {run.lists_checked} lists served on {where}, {run.lists_affected} would change"
    if rule.kind in ("boost", "bury", "exclude"):
        verb = {"boost": f"raised ×{rule.multiplier:g}", "bury": f"lowered ×{rule.multiplier:g}", "exclude": "dropped"}
        items = f"{run.items_affected} served items would be {verb[rule.kind]}"
        targets = f"{run.matching_products} in-stock products match its targets"
        if not run.lists_affected:
            return f"{head}: none of their items match its targets ({targets} in all)."
        return f"{head}: {items}. {targets}."
    if rule.kind == "pin":
        return f"{head}: each would show the pinned item at position {rule.position}."
    return f"{head}: each would be re-ordered."


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
