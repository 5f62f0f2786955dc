"""The UCI "Online Retail" transactions as a demo catalog: stock codes become products, invoice
lines purchase events, customers keep their country. Everything goes through the same services
as the import commands (`products_upsert`, `customers_upsert`, `events_ingest`).

Kept lines: not a cancellation (invoice `C...`), quantity > 0, unit price >= 0, a customer, and a
product stock code. Product codes in this data are 5 digits, some with a letter suffix for a
variant (`85123A`); everything else is a charge or a pseudo-item (`POST`, `DOT`, `M`, `C2`,
`BANK CHARGES`, `AMAZONFEE`, `PADS`, `gift_0001_*` vouchers, `DCGS*` bundles). Codes are
upper-cased: the file spells some variants both ways (`85049d`, `85049D`).
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import json
import os
import re
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TextIO

from catalog.importing.customers import customers_upsert
from catalog.importing.events import events_ingest
from catalog.importing.products import products_upsert
from catalog.importing.report import ImportReport

PRODUCT_CODE = re.compile(r"^\d{5}[A-Z]*$")
CURRENCY = "GBP"
EVENT_ID_PREFIX = "online-retail"


@dataclass(frozen=True)
class RetailLine:
    invoice: str
    stock_code: str
    description: str
    quantity: int
    invoice_date: str
    unit_price: Decimal
    customer: str
    country: str


@dataclass(frozen=True)
class DemoLoadResult:
    lines_read: int
    lines_kept: int
    dropped: dict[str, int]
    products: ImportReport
    customers: ImportReport
    events: ImportReport
    duration_s: float
    # Event rows at or after `until`, written to the holdout file instead of the store.
    held_out: int = 0


@dataclass
class RetailReader:
    """Reads the file once per pass with the same filter, so both passes keep the same lines."""

    path: Path
    limit_customers: int | None = None
    dropped: Counter = field(default_factory=Counter)
    lines_read: int = 0

    def lines(self) -> Iterator[RetailLine]:
        self.dropped, self.lines_read = Counter(), 0
        admitted: set[str] = set()
        opener = gzip.open if self.path.suffix == ".gz" else open
        with opener(self.path, "rt", encoding="utf-8-sig", newline="") as handle:
            for raw in csv.DictReader(handle):
                self.lines_read += 1
                reason, line = retail_line_parse(raw)
                if line is None:
                    self.dropped[reason] += 1
                    continue
                if line.customer not in admitted:
                    # Customers are admitted in order of first appearance: deterministic per file.
                    if self.limit_customers is not None and len(admitted) >= self.limit_customers:
                        self.dropped["over customer limit"] += 1
                        continue
                    admitted.add(line.customer)
                yield line


def retail_line_parse(raw: dict[str, Any]) -> tuple[str, RetailLine | None]:
    """One CSV record -> ("", RetailLine) when it is a purchase of a product, else (reason, None)."""
    invoice = (raw.get("InvoiceNo") or "").strip()
    if invoice.upper().startswith("C"):
        return "cancellation", None
    customer = (raw.get("CustomerID") or "").strip().removesuffix(".0")
    if not customer:
        return "no customer", None
    code = (raw.get("StockCode") or "").strip().upper()
    if not PRODUCT_CODE.match(code):
        return "not a product code", None
    try:
        quantity = int(raw.get("Quantity") or "")
        unit_price = Decimal((raw.get("UnitPrice") or "").strip())
    except (ValueError, InvalidOperation):
        return "unreadable quantity or price", None
    if quantity <= 0:
        return "quantity <= 0", None
    if not unit_price.is_finite() or unit_price < 0:
        return "negative price", None
    line = RetailLine(
        invoice=invoice,
        stock_code=code,
        description=" ".join((raw.get("Description") or "").split()),
        quantity=quantity,
        invoice_date=(raw.get("InvoiceDate") or "").strip(),
        unit_price=unit_price,
        customer=customer,
        country=(raw.get("Country") or "").strip(),
    )
    return "", line


def online_retail_catalog(*, lines: Iterator[RetailLine]) -> tuple[list[dict], list[dict]]:
    """Product rows (title: most frequent description; price: median unit price) and customer
    rows (country: the most frequent one) in interchange format."""
    descriptions: dict[str, Counter] = defaultdict(Counter)
    prices: dict[str, list[Decimal]] = defaultdict(list)
    countries: dict[str, Counter] = defaultdict(Counter)
    for line in lines:
        if line.description:
            descriptions[line.stock_code][line.description] += 1
        prices[line.stock_code].append(line.unit_price)
        countries[line.customer][line.country] += 1
    products = [
        {
            "id": code,
            "title": descriptions[code].most_common(1)[0][0] if descriptions[code] else code,
            "price": str(statistics.median(code_prices).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)),
            "currency": CURRENCY,
        }
        for code, code_prices in prices.items()
    ]
    customers = [
        {"id": customer, "attributes": {"country": counter.most_common(1)[0][0]} if counter else {}}
        for customer, counter in countries.items()
    ]
    return products, customers


def online_retail_events(*, lines: Iterator[RetailLine]) -> Iterator[dict[str, Any]]:
    """One purchase event per kept invoice line, with an id stable across re-imports:
    invoice + stock code + the line's occurrence of that code within the invoice."""
    seen: Counter = Counter()
    for line in lines:
        key = (line.invoice, line.stock_code)
        seen[key] += 1
        yield {
            "event_id": f"{EVENT_ID_PREFIX}:{line.invoice}:{line.stock_code}:{seen[key]}",
            "customer": line.customer,
            "product": line.stock_code,
            "type": "purchase",
            "timestamp": line.invoice_date,
            "value": float(line.unit_price * line.quantity),
        }


def demo_load(
    *, source: Path, limit_customers: int | None = None, until: dt.datetime | None = None, holdout: Path | None = None
) -> DemoLoadResult:
    """Load the Online Retail file (two streaming passes: catalog first, then events).

    With `until`, only the events before it are stored; the later ones are written to `holdout`
    (JSON Lines, interchange format) — the held-out behaviour `simulate_traffic` replays. The
    whole catalog is loaded either way.
    """
    started = time.perf_counter()
    reader = RetailReader(path=source, limit_customers=limit_customers)
    product_rows, customer_rows = online_retail_catalog(lines=reader.lines())
    products = products_upsert(rows=product_rows)
    customers = customers_upsert(rows=customer_rows)
    rows = online_retail_events(lines=reader.lines())
    held_out = 0
    if until is None:
        events = events_ingest(rows=rows)
    else:
        with open(holdout or os.devnull, "w", encoding="utf-8") as handle:
            split = HoldoutSplit(until=until, handle=handle)
            events = events_ingest(rows=split.before(rows))
            held_out = split.held_out
    return DemoLoadResult(
        lines_read=reader.lines_read,
        lines_kept=events.received + held_out,
        dropped=dict(reader.dropped.most_common()),
        products=products,
        customers=customers,
        events=events,
        duration_s=time.perf_counter() - started,
        held_out=held_out,
    )


@dataclass
class HoldoutSplit:
    """Passes on the event rows before `until`; writes the others to `handle`, one JSON a line."""

    until: dt.datetime
    handle: TextIO
    held_out: int = 0

    def before(self, rows: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for row in rows:
            at = dt.datetime.fromisoformat(row["timestamp"])
            if (at if at.tzinfo else at.replace(tzinfo=dt.UTC)) < self.until:
                yield row
            else:
                self.handle.write(json.dumps(row) + "\n")
                self.held_out += 1
