"""products_upsert and read_rows: bad rows reported by line and field, good rows kept,
re-import is a no-op, category paths become a tree."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from catalog.importing.products import products_upsert
from catalog.importing.readers import read_rows
from catalog.importing.report import RowError
from catalog.models import Category, Product
from catalog.text import product_text, text_hash
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


def write_jsonl(path: Path, lines: list[object]) -> Path:
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return path


GOOD = {"id": "P1", "title": "Blue mug", "category": "Home > Kitchen > Mugs", "price": "4.50", "currency": "gbp"}


def test_bad_rows_are_reported_with_line_and_field_and_good_rows_are_stored(tmp_path):
    # given a JSONL file mixing good rows with one fault each
    path = write_jsonl(
        tmp_path / "products.jsonl",
        [
            GOOD,
            {"title": "no id"},
            {"id": "P3"},
            {"id": "P4", "title": "T", "price": "cheap"},
            {"id": "P5", "title": "T", "in_stock": "maybe"},
            '{"id": "P6", "title": ',
            '["P7", "T"]',
            {"id": "P8", "title": "T", "price": -1},
            {"id": "P9", "title": "T", "attributes": "[1]"},
            {"id": "P10", "title": "Good too", "in_stock": "no", "attributes": {"colour": "red"}},
        ],
    )

    # when
    report = products_upsert(rows=read_rows(path))

    # then
    assert report.errors == [
        RowError(2, "id", "is required"),
        RowError(3, "title", "is required"),
        RowError(4, "price", "must be a number, got 'cheap'"),
        RowError(5, "in_stock", "must be a boolean (true/false/1/0/yes/no), got 'maybe'"),
        RowError(6, None, "invalid JSON: Expecting value (column 22)"),
        RowError(7, None, "not a JSON object (got list)"),
        RowError(8, "price", "must be >= 0, got -1"),
        RowError(9, "attributes", "must be an object, not list"),
    ]
    assert (report.received, report.created, report.updated, report.unchanged) == (10, 2, 0, 0)
    stored = {p.external_id: p for p in Product.objects.select_related("category")}
    assert sorted(stored) == ["P1", "P10"]
    assert stored["P1"].price == Decimal("4.50")
    assert stored["P1"].currency == "GBP"
    assert stored["P1"].category.path == "Home > Kitchen > Mugs"
    assert stored["P10"].in_stock is False
    assert stored["P10"].attributes == {"colour": "red"}


def test_csv_rows_are_parsed_like_jsonl_and_line_numbers_count_the_header(tmp_path):
    # given a CSV with a JSON attributes column and a bool string
    path = tmp_path / "products.csv"
    path.write_text(
        "id,title,brand,price,in_stock,attributes\n"
        'P1,Teapot,Acme,12.00,yes,"{""size"": ""L""}"\n'
        "P2,Kettle,Acme,abc,true,\n"
        "P3,Cup,,1,0,\n"
    )

    # when
    report = products_upsert(rows=read_rows(path))

    # then
    assert report.errors == [RowError(3, "price", "must be a number, got 'abc'")]
    teapot = Product.objects.get(external_id="P1")
    assert (teapot.brand, teapot.price, teapot.in_stock, teapot.attributes) == (
        "Acme",
        Decimal("12.00"),
        True,
        {"size": "L"},
    )
    assert Product.objects.get(external_id="P3").in_stock is False


def test_reimporting_the_same_file_changes_nothing(tmp_path):
    # given a catalog imported once
    path = write_jsonl(tmp_path / "p.jsonl", [GOOD, {"id": "P2", "title": "Plate", "attributes": {"a": 1}}])
    products_upsert(rows=read_rows(path))
    before = dict(Product.objects.values_list("external_id", "updated_at"))

    # when the same file is imported again
    report = products_upsert(rows=read_rows(path))

    # then
    assert (report.received, report.created, report.updated, report.unchanged, report.errors) == (2, 0, 0, 2, [])
    assert dict(Product.objects.values_list("external_id", "updated_at")) == before


def test_changed_title_updates_the_product_and_its_text_hash():
    # given
    products_upsert(rows=[GOOD, {"id": "P2", "title": "Plate"}])
    old = Product.objects.get(external_id="P1")

    # when
    report = products_upsert(rows=[{**GOOD, "title": "Red mug"}, {"id": "P2", "title": "Plate"}])

    # then
    assert (report.created, report.updated, report.unchanged) == (0, 1, 1)
    new = Product.objects.get(external_id="P1")
    assert new.title == "Red mug"
    assert new.text_hash == text_hash(product_text(title="Red mug", category_path="Home > Kitchen > Mugs"))
    assert new.text_hash != old.text_hash
    assert new.updated_at > old.updated_at


def test_category_paths_build_one_tree():
    # when two products share a prefix, written with uneven spacing
    products_upsert(
        rows=[
            {"id": "A", "title": "a", "category": "Home>Kitchen >  Mugs"},
            {"id": "B", "title": "b", "category": "Home > Garden"},
        ]
    )

    # then every prefix is one node linked to its parent
    tree = {c.path: (c.name, c.parent.path if c.parent else None) for c in Category.objects.select_related("parent")}
    assert tree == {
        "Home": ("Home", None),
        "Home > Garden": ("Garden", "Home"),
        "Home > Kitchen": ("Kitchen", "Home"),
        "Home > Kitchen > Mugs": ("Mugs", "Home > Kitchen"),
    }


def test_duplicate_id_keeps_the_last_row_and_reports_the_earlier_one():
    # when
    report = products_upsert(rows=[{"id": "P1", "title": "first"}, {"id": "P1", "title": "second"}])

    # then
    assert report.errors == [RowError(1, "id", "duplicate id 'P1': replaced by line 2")]
    assert (report.received, report.created) == (2, 1)
    assert Product.objects.get(external_id="P1").title == "second"


def test_a_posted_list_is_numbered_from_one_and_non_objects_are_errors():
    # when (the REST API passes a list of parsed JSON values)
    report = products_upsert(rows=[GOOD, "not an object", {"id": "P2", "title": "x", "currency": "EURO"}])

    # then
    assert report.errors == [
        RowError(2, None, "not an object (got str)"),
        RowError(3, "currency", "is longer than 3 characters"),
    ]
    assert report.as_dict()["errors"][0] == {"line": 2, "field": None, "message": "not an object (got str)"}


def test_gzipped_jsonl_is_read(tmp_path):
    # given
    import gzip

    path = tmp_path / "p.jsonl.gz"
    with gzip.open(path, "wt") as handle:
        handle.write(json.dumps(GOOD) + "\n\n")

    # when
    report = products_upsert(rows=read_rows(path))

    # then
    assert (report.received, report.created) == (1, 1)


def test_saving_a_product_keeps_its_text_hash_true_to_its_fields(db):
    # given a stored product with an embedding-relevant field edited, as the admin does
    product = ProductFactory(title="WHITE METAL LANTERN")
    before = product.text_hash
    product.title = "BLACK METAL LANTERN"
    # when it is saved
    product.save()
    # then the hash follows the new text, so the embedder sees it as stale
    product.refresh_from_db()
    assert product.text_hash != before
    assert product.text_hash == text_hash(product_text(title="BLACK METAL LANTERN"))


def test_bidi_controls_are_removed_from_catalog_text_with_a_warning():
    rows = [
        {"id": "p1", "title": "\u202emug live", "brand": "Ac\u2066me\u2069", "category": "Home > \u202aMugs"},
        {"id": "p2", "title": "Plain mug"},
        {"id": "p3", "title": "\u202e\u202c"},
    ]

    report = products_upsert(rows=rows)

    product = Product.objects.get(external_id="p1")
    assert (product.title, product.brand, product.category.path) == ("mug live", "Acme", "Home > Mugs")
    assert [(w.line, w.field) for w in report.warnings] == [(1, "title"), (1, "category"), (1, "brand")]
    assert report.warnings[0].message.startswith("bidi control characters (U+202A-U+202E, U+2066-U+2069) removed")
    assert report.errors == [RowError(3, "title", "is required (it held only bidi control characters)")]
