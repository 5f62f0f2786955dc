"""The rules stage on the serving path: one query loads what the filters and the rules need for
every candidate (and the pinned items), then `stage.rules_apply` runs in memory. When no rule
applies to the request, only the candidates it takes to fill the list are read.

Added cost per request, beyond the query the pipeline made before the rules existed: the
category, brand and attributes columns in that query, a customer-attributes query only while a
segment rule is active, and an embeddings query only while an MMR rule is in scope.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from catalog.public import Customer, Product, category_subtree_like
from recommendations.contracts import (
    FACTS_DESCRIPTION_CHARS,
    REQUEST_BOOST,
    REQUEST_BURY,
    CatalogRow,
    FusedItem,
    ItemFilter,
    ScoredItem,
    fused_pks,
)
from recommendations.rules.active import ActiveRule, RuleSet, rules_active
from recommendations.rules.apply import RuleItem, RuleRequest, rules_apply, rules_in_scope
from recsite.db_router import read_connection
from recsite.metrics import rules_actions_count, stage_timer


@stage_timer("rules")
def rules_stage(
    *,
    ranked: Sequence[FusedItem],
    k: int,
    placement: str,
    customer_id: str | None = None,
    apply_rules: bool = True,
    excluded_pks: Iterable[int] = (),
    excluded_external_ids: Sequence[str] = (),
    category_path: str | None = None,
    item_filter: ItemFilter = ItemFilter(),
    with_facts: bool = False,
) -> tuple[ScoredItem, ...]:
    """The served top `k` of `ranked` after the filters (the request's `item_filter` among them),
    the request's boosts and buries, and (unless not `apply_rules`) the merchandising rules. With
    `with_facts`, each item carries the catalog row the reasons stage builds its facts from (read
    in the same query)."""
    if k <= 0:
        return ()
    excluded = set(excluded_pks)
    # By position, so that a lazily built fused list builds only the items read below.
    ordered = [(i, pk) for i, pk in enumerate(fused_pks(ranked)) if pk not in excluded]
    ruleset = rules_active() if apply_rules else RuleSet()
    segment = customer_attributes(customer_id=customer_id) if ruleset.has_segments and customer_id else None
    request = RuleRequest(placement=placement, category=category_path, segment=segment)
    in_scope = rules_in_scope(ruleset=ruleset, request=request)
    filters = {
        "customer_id": customer_id,
        "excluded_external_ids": excluded_external_ids,
        "category_path": category_path,
        "item_filter": item_filter,
        "with_facts": with_facts,
    }
    pks = [pk for _, pk in ordered]
    if in_scope or item_filter.reorders:
        pinned_pks = [pk for pk in ruleset.pinned_pks if pk not in excluded] if in_scope else []
        rows = available_items(pks=pks + pinned_pks, **filters)
    else:
        # No rule applies and the request reorders nothing: the served list is the first k
        # available items, so only as many candidates are read as it takes to find them.
        pinned_pks = []
        rows = available_prefix(pks=pks, k=k, **filters)
    items = [
        RuleItem(product_pk=f.product_pk, score=f.score, routes=f.routes, seeds=f.seeds, **rows[f.product_pk])
        for f in (ranked[i] for i, pk in ordered if pk in rows)
    ]
    if item_filter.reorders:
        items = request_boosts_apply(items=items, item_filter=item_filter)
    pinned = {pk: RuleItem(product_pk=pk, score=0.0, routes={}, **rows[pk]) for pk in pinned_pks if pk in rows}
    similarity = None
    mmr_window = max(
        ((r.top_k or k + len(pinned)) for r in ruleset.rules if r.kind == "mmr" and r.id in in_scope), default=0
    )
    if mmr_window:
        similarity = pairwise_similarity(pks=[item.product_pk for item in items[:mmr_window]])
    served = rules_apply(items=items, ruleset=ruleset, request=request, k=k, pinned=pinned, similarity=similarity)
    rules_actions_count(kinds=[touch.kind for item in served for touch in item.rules])
    return served


@dataclass(frozen=True)
class RuleNote:
    """Why an active rule left no mark on a list (for the preview; items show the rules that did)."""

    rule_id: int
    name: str
    kind: str
    note: str


def rules_explain(
    *,
    served: Sequence[ScoredItem],
    k: int,
    placement: str,
    customer_id: str | None = None,
    apply_rules: bool = True,
    excluded_external_ids: Sequence[str] = (),
    category_path: str | None = None,
) -> list[RuleNote]:
    """For every active rule that touched none of `served`: why (out of scope, its pinned item
    filtered out, its position beyond k, or no served item matched its targets). Not on the
    serving path: a few queries, run by the preview."""
    ruleset = rules_active()
    if not apply_rules:
        return [RuleNote(r.id, r.name, r.kind, "the strategy turns the merchandising rules off") for r in ruleset.rules]
    segment = customer_attributes(customer_id=customer_id) if ruleset.has_segments and customer_id else None
    request = RuleRequest(placement=placement, category=category_path, segment=segment)
    touched = {touch.rule_id for item in served for touch in item.rules}
    notes = []
    for rule in ruleset.rules:
        if rule.id in touched:
            continue
        miss = rule.scope_miss(placement=placement, category=category_path, segment=segment, now=request.now)
        if miss is not None:
            note = f"out of scope: {miss}"
        elif rule.kind == "pin":
            note = _pin_dropped(
                rule=rule, k=k, customer_id=customer_id, excluded=excluded_external_ids, category=category_path
            )
        else:
            note = "in scope, but no served item matched its targets"
        notes.append(RuleNote(rule.id, rule.name, rule.kind, note))
    return notes


def _pin_dropped(
    *, rule: ActiveRule, k: int, customer_id: str | None, excluded: Sequence[str], category: str | None
) -> str:
    if rule.position is not None and rule.position > k:
        return f"its position {rule.position} is beyond the list's {k} items"
    product = Product.objects.filter(pk=rule.product_pk).values("external_id", "in_stock").first()
    if product is None:
        return "its product no longer exists"
    if not product["in_stock"]:
        return f"dropped: {product['external_id']} is out of stock"
    if product["external_id"] in excluded:
        return f"dropped: the request excludes {product['external_id']}"
    if customer_id and not available_items(
        pks=[rule.product_pk], customer_id=customer_id, excluded_external_ids=(), category_path=None
    ):
        return f"dropped: {product['external_id']} is hidden for this customer"
    if category is not None and not available_items(
        pks=[rule.product_pk], customer_id=None, excluded_external_ids=(), category_path=category
    ):
        return f"dropped: {product['external_id']} is outside the requested category"
    return f"dropped: {product['external_id']} was filtered out (e.g. the customer bought it already)"


def available_prefix(
    *,
    pks: Sequence[int],
    k: int,
    customer_id: str | None,
    excluded_external_ids: Sequence[str],
    category_path: str | None,
    item_filter: ItemFilter = ItemFilter(),
    with_facts: bool = False,
) -> dict[int, dict]:
    """`available_items` of the shortest prefix of `pks` that holds `k` available ones (or all of
    `pks`), read in windows that double from 2k + 10."""
    rows: dict[int, dict] = {}
    start, size = 0, 2 * k + 10
    while start < len(pks) and len(rows) < k:
        rows.update(
            available_items(
                pks=pks[start : start + size],
                customer_id=customer_id,
                excluded_external_ids=excluded_external_ids,
                category_path=category_path,
                item_filter=item_filter,
                with_facts=with_facts,
            )
        )
        start, size = start + size, size * 2
    return rows


def available_items(
    *,
    pks: Sequence[int],
    customer_id: str | None,
    excluded_external_ids: Sequence[str],
    category_path: str | None,
    item_filter: ItemFilter = ItemFilter(),
    with_facts: bool = False,
) -> dict[int, dict]:
    """pk → the fields the rules read, for the in-stock products among `pks` that pass the filters
    (not hidden for the customer, not excluded, within the category, and the request's price,
    brand and attribute filters); with `with_facts`, also the product's `catalog` row (a reason's
    facts: the description, price and currency besides what the rules read), else None.

    Raw SQL with array parameters: hundreds of candidates bind as one value, not one each.
    """
    if not pks:
        return {}
    facts_sql = (
        f", left(p.description, {FACTS_DESCRIPTION_CHARS}), p.price, p.currency" if with_facts else ", NULL, NULL, NULL"
    )
    sql = (
        f"SELECT p.id, p.external_id, p.title, COALESCE(c.path, ''), p.brand, p.attributes{facts_sql}"
        " FROM catalog_product p LEFT JOIN catalog_category c ON c.id = p.category_id"
        " WHERE p.id = ANY(%s) AND p.in_stock"
    )
    params: list = [list(pks)]
    if customer_id:
        sql += (
            " AND NOT EXISTS (SELECT 1 FROM recommendations_hiddenitem h"
            " WHERE h.customer_external_id = %s AND h.product_external_id = p.external_id)"
        )
        params.append(customer_id)
    if excluded_external_ids:
        sql += " AND NOT (p.external_id = ANY(%s))"
        params.append(list(excluded_external_ids))
    if category_path is not None:
        sql += " AND (c.path = %s OR c.path LIKE %s)"
        params += [category_path, category_subtree_like(category_path)]
    filter_sql, filter_params = item_filter_sql(item_filter)
    sql += filter_sql
    params += filter_params
    with read_connection().cursor() as cursor:
        cursor.execute(sql, params)
        return {
            pk: {
                "product_id": external_id,
                "title": title,
                "category_path": path,
                "brand": brand,
                "attributes": _json_object(attributes),
                "catalog": CatalogRow(
                    external_id=external_id,
                    title=title,
                    description=description or "",
                    brand=brand,
                    price=price,
                    currency=currency,
                    category_path=path,
                )
                if with_facts
                else None,
            }
            for pk, external_id, title, path, brand, attributes, description, price, currency in cursor.fetchall()
        }


def _json_object(value: Any) -> dict:
    # Django's psycopg 3 setup hands jsonb to a raw cursor as text (its JSONField decodes it).
    if isinstance(value, str):
        value = json.loads(value)
    return value if isinstance(value, dict) else {}


def item_filter_sql(item_filter: ItemFilter) -> tuple[str, list]:
    """The WHERE conditions of a request's filters (on `p`, catalog_product), and their params.

    An attribute matches when its text (`->>`: a number as written, a boolean as `true`) is one of
    the values, or when it is a list holding one of them as a string (`?|`). A product without a
    price fails a price bound.
    """
    sql, params = "", []
    if item_filter.price_min is not None:
        sql += " AND p.price >= %s"
        params.append(item_filter.price_min)
    if item_filter.price_max is not None:
        sql += " AND p.price <= %s"
        params.append(item_filter.price_max)
    if item_filter.brands:
        sql += " AND lower(p.brand) = ANY(%s)"
        params.append([brand.lower() for brand in item_filter.brands])
    for key, values in item_filter.attributes:
        sql += (
            " AND (p.attributes->>%s = ANY(%s)"
            " OR (jsonb_typeof(p.attributes->%s) = 'array' AND p.attributes->%s ?| %s))"
        )
        params += [key, list(values), key, key, list(values)]
    return sql, params


def request_boosts_apply(*, items: Sequence[RuleItem], item_filter: ItemFilter) -> list[RuleItem]:
    """The request's `boost=` (score × REQUEST_BOOST) and `bury=` (× REQUEST_BURY), each matching
    pair counting once, re-sorted by the new score (stable); before the merchandising rules, which
    may still pin or move an item."""
    rescored = []
    for item in items:
        score = item.score
        for pairs, factor in ((item_filter.boosts, REQUEST_BOOST), (item_filter.buries, REQUEST_BURY)):
            for key, values in pairs:
                if attribute_matches(item.attributes.get(key), values):
                    score *= factor
        rescored.append(item if score == item.score else replace(item, score=score))
    return sorted(rescored, key=lambda item: -item.score)


def attribute_matches(value: Any, accepted: Sequence[str]) -> bool:
    """Whether an attribute value is one of `accepted`, compared as the SQL filter does."""
    if isinstance(value, list):
        return any(isinstance(v, str) and v in accepted for v in value)
    if value is None:
        return False
    return (value if isinstance(value, str) else json.dumps(value)) in accepted


def customer_attributes(*, customer_id: str) -> dict:
    return Customer.objects.filter(external_id=customer_id).values_list("attributes", flat=True).first() or {}


def pairwise_similarity(*, pks: Sequence[int]) -> dict[tuple[int, int], float]:
    """Cosine similarity of every pair among `pks` that have embeddings, computed in the database
    (pgvector's `<=>` is the cosine distance): a few dozen floats come back, not the vectors."""
    if len(pks) < 2:
        return {}
    sql = (
        "SELECT a.product_id, b.product_id, 1 - (a.vector <=> b.vector)"
        " FROM catalog_productembedding a JOIN catalog_productembedding b ON a.product_id < b.product_id"
        " WHERE a.product_id = ANY(%s) AND b.product_id = ANY(%s)"
    )
    with read_connection().cursor() as cursor:
        cursor.execute(sql, [list(pks), list(pks)])
        rows = cursor.fetchall()
    return {pair: float(sim) for a, b, sim in rows for pair in ((a, b), (b, a))}
