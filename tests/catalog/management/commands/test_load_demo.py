"""load_demo: the Online Retail transform (filters, titles, prices, event ids) end to end."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from catalog.management.commands.load_demo import SUBSET_FILE
from catalog.models import Customer, Event, Product

pytestmark = pytest.mark.django_db

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
LINES = [
    "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850,United Kingdom",
    "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,2,2010-12-01 08:26:00,2.55,17850,United Kingdom",
    "536366,85123a,CREAM HANGING HEART T-LIGHT HOLDER,1,2010-12-02 09:00:00,2.95,17851,France",
    "536367,85123A,WHITE HANGING HEART T-LIGHT HOLDER,3,2010-12-03 10:00:00,3.25,17852,Germany",
    "536368,71053,WHITE METAL LANTERN,2,2010-12-03 11:00:00,3.39,17850,United Kingdom",
    "536368,71053,WHITE METAL LANTERN,1,2010-12-03 11:00:00,3.40,17850,United Kingdom",
    "C536369,71053,WHITE METAL LANTERN,-1,2010-12-04 12:00:00,3.39,17850,United Kingdom",
    "536370,22633,HAND WARMER UNION JACK,-4,2010-12-04 12:30:00,2.10,17851,France",
    "536371,POST,POSTAGE,1,2010-12-04 13:00:00,18.00,17852,Germany",
    "536372,BANK CHARGES,Bank Charges,1,2010-12-04 13:00:00,15.00,17852,Germany",
    "536373,gift_0001_20,Dotcomgiftshop Gift Voucher £20.00,1,2010-12-04 13:00:00,17.02,17852,Germany",
    "536374,22633,HAND WARMER UNION JACK,6,2010-12-05 14:00:00,2.10,,United Kingdom",
]


@pytest.fixture
def retail_file(tmp_path):
    path = tmp_path / "retail.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(HEADER + "\n".join(LINES) + "\n")
    return path


def load(source, *extra) -> str:
    out = StringIO()
    call_command("load_demo", "--source", str(source), "--no-embed-request", *extra, stdout=out)
    return out.getvalue()


def test_load_demo_keeps_purchases_of_products_and_summarises_them(retail_file):
    # when
    output = load(retail_file)

    # then cancellations, returns, charges, vouchers and guest rows are dropped
    assert (
        "lines read 12, kept 6; dropped: not a product code 3, cancellation 1, quantity <= 0 1, no customer 1" in output
    )
    products = {p.external_id: p for p in Product.objects.all()}
    assert sorted(products) == ["71053", "85123A"]
    # the most frequent description wins; the price is the median unit price, rounded half up
    assert products["85123A"].title == "WHITE HANGING HEART T-LIGHT HOLDER"
    assert products["85123A"].price == Decimal("2.75")
    assert products["71053"].price == Decimal("3.40")
    assert products["71053"].currency == "GBP"
    assert dict(Customer.objects.values_list("external_id", "attributes")) == {
        "17850": {"country": "United Kingdom"},
        "17851": {"country": "France"},
        "17852": {"country": "Germany"},
    }
    events = {e.event_id: e for e in Event.objects.all()}
    assert sorted(events) == [
        "online-retail:536365:85123A:1",
        "online-retail:536365:85123A:2",
        "online-retail:536366:85123A:1",
        "online-retail:536367:85123A:1",
        "online-retail:536368:71053:1",
        "online-retail:536368:71053:2",
    ]
    first = events["online-retail:536365:85123A:1"]
    assert (first.type, first.value, first.customer.external_id) == ("purchase", 15.3, "17850")
    assert first.timestamp == dt.datetime(2010, 12, 1, 8, 26, tzinfo=dt.UTC)


def test_load_demo_twice_changes_nothing(retail_file):
    # given
    load(retail_file)
    before = dict(Product.objects.values_list("external_id", "updated_at"))

    # when
    output = load(retail_file)

    # then
    assert "products: received 2, created 0, updated 0, unchanged 2, errors 0" in output
    assert "customers: received 3, created 0, updated 0, unchanged 3, errors 0" in output
    assert "events: received 6, created 0, updated 0, unchanged 6, errors 0" in output
    assert dict(Product.objects.values_list("external_id", "updated_at")) == before
    assert Event.objects.count() == 6


def test_limit_customers_keeps_the_first_customers_of_the_file(retail_file):
    # when
    load(retail_file, "--limit-customers", "1")

    # then
    assert list(Customer.objects.values_list("external_id", flat=True)) == ["17850"]
    assert Event.objects.count() == 4


@pytest.mark.slow
def test_load_demo_on_the_repository_subset():
    # when
    output = load(SUBSET_FILE)

    # then (the subset's figures, see data/online-retail/ATTRIBUTION.md)
    assert "lines read 95674, kept 93376" in output
    assert (Product.objects.count(), Customer.objects.count(), Event.objects.count()) == (3247, 895, 93376)


def test_load_demo_until_stores_earlier_events_and_holds_out_the_rest(retail_file, tmp_path):
    # given a cutoff between the 2nd and the 3rd of December
    holdout = tmp_path / "holdout.jsonl"

    # when
    output = load(retail_file, "--until", "2010-12-02T00:00:00", "--holdout", str(holdout))

    # then the first invoice's two lines are stored, the four later kept lines are held out
    assert Event.objects.count() == 2
    held = [json.loads(line) for line in holdout.read_text().splitlines()]
    assert [(row["customer"], row["product"]) for row in held] == [
        ("17851", "85123A"),
        ("17852", "85123A"),
        ("17850", "71053"),
        ("17850", "71053"),
    ]
    assert all(row["type"] == "purchase" for row in held)
    assert "held out 4 events" in output
    # the whole catalog is loaded all the same
    assert Product.objects.count() == 2


def test_load_demo_holdout_needs_until(retail_file, tmp_path):
    with pytest.raises(CommandError, match="--holdout needs --until"):
        load(retail_file, "--holdout", str(tmp_path / "h.jsonl"))
    assert Event.objects.count() == 0
