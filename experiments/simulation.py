"""Simulated storefront traffic for an experiment, driven by held-out real behaviour.

Each simulated session asks the real recommendations API for a customer's home feed, then
behaves as that customer really did after the catalog's cutoff: an item they bought in the
held-out period is clicked, and bought, when the feed shows it; nothing else is. Events go back
through the real events API carrying the list's `recommendation_id`, so exposures, attribution
and the dashboard statistics see exactly what live traffic would produce. A variant with a
better strategy therefore wins for a real reason: it surfaces what customers went on to buy.

The store must not already know the held-out events (the feed would leave out items already
bought, and the routes would have trained on the answer): load the data up to the cutoff and
keep the rest in a file (`manage.py load_demo --until ISO --holdout FILE` does both).
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from catalog.public import BadLine, FieldError, number, read_rows, text, timestamp
from experiments.serving import INTERLEAVED

POSITIVE_TYPES = frozenset({"click", "add_to_cart", "purchase"})
RECOMMENDATIONS = "/api/v1/recommendations/"
EVENTS = "/api/v1/events/"


class Storefront(Protocol):
    """How the simulator reaches the API: in-process or over HTTP, the same requests either way."""

    def get(self, path: str, params: Mapping[str, Any]) -> tuple[int, Any]: ...

    def post(self, path: str, body: Any) -> tuple[int, Any]: ...


@dataclass(frozen=True)
class HeldOut:
    """What each customer really did after the cutoff: product id → amount spent (0 if unknown)."""

    purchases: dict[str, dict[str, float]]
    rows_read: int
    rows_skipped: int


@dataclass
class VariantTraffic:
    lists: int = 0
    customers: set[str] = field(default_factory=set)
    clicks: int = 0
    purchases: int = 0
    revenue: float = 0.0


@dataclass
class SimulationReport:
    sessions: int = 0
    lists_outside_experiment: int = 0
    events_sent: int = 0
    errors: Counter = field(default_factory=Counter)
    variants: dict[str, VariantTraffic] = field(default_factory=lambda: defaultdict(VariantTraffic))


def holdout_read(*, path: str) -> HeldOut:
    """Positive events of an interchange file (JSON Lines or CSV) grouped by customer.

    Rows that are not positive events, or cannot be read, are skipped and counted.
    """
    purchases: dict[str, dict[str, float]] = defaultdict(dict)
    read = skipped = 0
    for _line, row in read_rows(path):
        read += 1
        if isinstance(row, BadLine) or row.get("type") not in POSITIVE_TYPES:
            skipped += 1
            continue
        try:
            customer = text(row, "customer", max_length=128, required=True)
            product = text(row, "product", max_length=128, required=True)
            timestamp(row, "timestamp")
            amount = number(row, "value") or 0.0
        except FieldError:
            skipped += 1
            continue
        bought = purchases[customer]
        bought[product] = bought.get(product, 0.0) + amount
    return HeldOut(purchases=dict(purchases), rows_read=read, rows_skipped=skipped)


def customers_sample(*, held_out: HeldOut, known: Iterable[str], n: int, seed: int) -> list[str]:
    """Up to `n` customers, chosen at random (seeded), who have a history in the store and
    bought something in the held-out period: the ones whose behaviour can answer a feed."""
    eligible = sorted(set(known) & set(held_out.purchases))
    return random.Random(seed).sample(eligible, min(n, len(eligible)))


def traffic_simulate(
    *,
    storefront: Storefront,
    customers: Sequence[str],
    held_out: HeldOut,
    sessions_per_customer: int = 1,
    k: int = 10,
    now: dt.datetime,
) -> SimulationReport:
    """Run the sessions: feed → clicks and purchases on held-out items → events with the list's id.

    An item bought once is not bought again in a later session (it is in the history by then).
    """
    report = SimulationReport()
    for customer in customers:
        remaining = dict(held_out.purchases.get(customer, {}))
        for session in range(sessions_per_customer):
            report.sessions += 1
            status, body = storefront.get(RECOMMENDATIONS, {"customer": customer, "k": k})
            if status != 200:
                report.errors[f"recommendations {status}"] += 1
                continue
            events = session_events(
                body=body, remaining=remaining, at=now + dt.timedelta(seconds=session), customer=customer
            )
            _tally(report=report, body=body, customer=customer, events=events)
            for product in {e["product"] for e in events}:
                remaining.pop(product, None)
            if events:
                status, answer = storefront.post(EVENTS, events)
                if status == 201:
                    report.events_sent += len(events)
                else:
                    # 207: some rows were rejected (the answer names them); anything else: none stored.
                    report.errors[f"events {status}"] += 1
    return report


def session_events(
    *, body: Mapping[str, Any], remaining: Mapping[str, float], at: dt.datetime, customer: str
) -> list[dict[str, Any]]:
    """A click and a purchase for every served item the customer really bought later."""
    rec_id = body["recommendation_id"]
    events: list[dict[str, Any]] = []
    for item in body["items"]:
        product = item["id"]
        if product not in remaining:
            continue
        for kind in ("click", "purchase"):
            event = {
                "event_id": f"sim:{rec_id}:{product}:{kind}",
                "customer": customer,
                "product": product,
                "type": kind,
                "timestamp": at.isoformat(),
                "recommendation_id": rec_id,
            }
            if kind == "purchase":
                event["value"] = remaining[product]
            events.append(event)
    return events


def _tally(*, report: SimulationReport, body: Mapping[str, Any], customer: str, events: list[dict]) -> None:
    # An interleaved list has an experiment and no variant: it is tallied as one "interleaved" arm.
    variant = body.get("variant") or (INTERLEAVED if body.get("experiment") else None)
    if variant is None:
        report.lists_outside_experiment += 1
        return
    traffic = report.variants[variant]
    traffic.lists += 1
    traffic.customers.add(customer)
    for event in events:
        if event["type"] == "click":
            traffic.clicks += 1
        else:
            traffic.purchases += 1
            traffic.revenue += event["value"]
