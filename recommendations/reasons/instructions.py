"""Instruction data for fine-tuning the reason model, built from purchase histories.

One example per customer with at least two purchased items: the input lists the items bought
before their latest purchase, the output names that latest item and the history item that best
explains it (its strongest item-CF seed, else the most recent item) — the same grounded reason
the platform serves, so a fine-tuned model learns to say only what is true.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.db import connection

from catalog.public import EventType, Product
from recommendations.reasons.guardrails import prompt_text_sanitize

INSTRUCTION = "Recommend the next product for this shopper and say in one sentence why, naming only their items."
HISTORY_ITEMS = 10


@dataclass(frozen=True)
class InstructionExample:
    instruction: str
    input: str
    output: str


@dataclass(frozen=True)
class InstructionItem:
    """An example with the products it names: the adapters' offline check renders the served
    reason prompt for the same item and seed."""

    example: InstructionExample
    target_pk: int
    seed_pk: int


def instruction_examples(*, limit: int | None = None) -> Iterator[InstructionExample]:
    """The examples, customer by customer (three queries in all)."""
    return (item.example for item in instruction_items(limit=limit))


def instruction_items(*, limit: int | None = None) -> Iterator[InstructionItem]:
    """The examples with their target and seed products, customer by customer."""
    sql = (
        "SELECT customer_id, product_id FROM ("
        " SELECT customer_id, product_id, max(timestamp) AS last FROM catalog_event WHERE type = %s"
        " GROUP BY customer_id, product_id) s ORDER BY customer_id, last, product_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [EventType.PURCHASE.value])
        rows = cursor.fetchall()
    histories: dict[int, list[int]] = {}
    for customer, product in rows:
        histories.setdefault(customer, []).append(product)
    pairs = []
    for items in histories.values():
        if len(items) >= 2:
            pairs.append((items[-1], items[-1 - HISTORY_ITEMS : -1][::-1]))
        if limit is not None and len(pairs) >= limit:
            break
    seeds = _strongest_seeds(pairs=pairs)
    needed = {pk for target, history in pairs for pk in (target, *history)}
    titles = {
        pk: prompt_text_sanitize(title, max_chars=120)
        for pk, title in Product.objects.filter(pk__in=needed).values_list("pk", "title")
    }
    for target, history in pairs:
        seed = seeds.get(target, {}).get(tuple(history)) or history[0]
        example = InstructionExample(
            instruction=INSTRUCTION,
            input="Recent purchases: " + "; ".join(titles[pk] for pk in history),
            output=f"{titles[target]}. Because you bought {titles[seed]}.",
        )
        yield InstructionItem(example=example, target_pk=target, seed_pk=seed)


def _strongest_seeds(*, pairs: list[tuple[int, list[int]]]) -> dict[int, dict[tuple[int, ...], int]]:
    """target → {history: the history item whose neighbour list scores the target highest}."""
    flat = [(i, target, h) for i, (target, history) in enumerate(pairs) for h in history]
    if not flat:
        return {}
    sql = (
        "SELECT DISTINCT ON (q.i) q.i, q.h FROM unnest(%s::int[], %s::bigint[], %s::bigint[]) AS q(i, target, h)"
        " JOIN catalog_itemneighbor n ON n.product_id = q.h AND n.neighbor_id = q.target"
        " ORDER BY q.i, n.score DESC, q.h"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [[f[0] for f in flat], [f[1] for f in flat], [f[2] for f in flat]])
        best = dict(cursor.fetchall())
    out: dict[int, dict[tuple[int, ...], int]] = {}
    for i, (target, history) in enumerate(pairs):
        if i in best:
            out.setdefault(target, {})[tuple(history)] = best[i]
    return out


def instructions_export(*, path: Path, limit: int | None = None) -> int:
    """Write the examples as JSON Lines `{instruction, input, output}`; returns how many."""
    count = 0
    with path.open("w", encoding="utf-8") as out:
        for example in instruction_examples(limit=limit):
            out.write(json.dumps(example.__dict__, ensure_ascii=False) + "\n")
            count += 1
    return count
