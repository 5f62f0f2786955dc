"""Ratings on the scales shops use: mapped onto 1–5 at import, inferred or named, never dropped."""

from __future__ import annotations

import json

import numpy as np
import pytest
from django.core.management import call_command

from catalog.importing.events import events_ingest
from catalog.importing.ratings import SCALES, rating_scale_infer
from catalog.models import Event
from recommendations.interactions import positive_mask
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


def ratings(*values):
    return [
        {"customer": f"C{i}", "product": "P1", "type": "rating", "timestamp": "2024-03-01T10:00:00Z", "value": v}
        for i, v in enumerate(values)
    ]


@pytest.fixture
def product():
    return ProductFactory(external_id="P1")


def stored():
    return sorted(Event.objects.values_list("value", flat=True))


def test_half_stars_are_inferred_and_stored_on_one_to_five(product):
    # given half-star ratings (0.5 to 5), the shape that lost 1,370 events of one public set
    report = events_ingest(rows=ratings(0.5, 3.5, 4.0, 5.0), rating_scale="auto")

    # then none is refused; 0.5 → 1, 5 → 5, linear between; the report names the scale
    assert report.errors == [] and report.created == 4
    assert stored() == pytest.approx([1.0, 1 + 4 * 3 / 4.5, 1 + 4 * 3.5 / 4.5, 5.0])
    assert report.notes == ["ratings read on the 0.5-5 scale, stored on 1-5"]


def test_positive_means_the_top_quarter_of_any_scale(product):
    # given ratings of 8 and 7 out of 10 and a thumbs-down
    events_ingest(rows=ratings(8, 7, 1, 10), rating_scale="1-10")

    # then 8 / 10 is positive (4.1 stars), 7 / 10 is not (3.7)
    values = sorted(Event.objects.values_list("value", flat=True))
    positive = positive_mask(types=np.array(["rating"] * 4), values=np.array(values))
    assert positive.tolist() == [False, False, True, True]


def test_thumbs_map_to_the_ends_of_the_scale(product):
    report = events_ingest(rows=ratings(1, 0, -1), rating_scale="auto")
    assert report.errors == [] and stored() == [1.0, 1.0, 5.0]


def test_a_rating_outside_the_named_scale_is_a_row_error_naming_it(product):
    report = events_ingest(rows=ratings(4, 7), rating_scale="1-5")
    assert [(e.line, e.field, e.message) for e in report.errors] == [
        (2, "value", "a rating on the 1-5 scale must be between 1 and 5, got 7")
    ]
    assert stored() == [4.0]


def test_inference_picks_the_narrowest_scale_holding_every_rating():
    assert rating_scale_infer([1, 2, 5]) == SCALES["1-5"]
    assert rating_scale_infer([0.5, 4.5]) == SCALES["0.5-5"]
    assert rating_scale_infer([1, 9]) == SCALES["1-10"]
    assert rating_scale_infer([0, 100]) == SCALES["0-100"]
    assert rating_scale_infer([]) == SCALES["1-5"]
    with pytest.raises(ValueError, match="fit none of the scales"):
        rating_scale_infer([-5, 3])


def test_the_command_takes_the_scale(product, tmp_path, capsys):
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(row) for row in ratings(10, 1)) + "\n")
    call_command("import_events", str(path), "--rating-scale", "1-10")
    assert stored() == [1.0, 5.0]
    assert "ratings read on the 1-10 scale, stored on 1-5" in capsys.readouterr().out


def test_a_title_over_the_stored_length_keeps_its_product_and_events(tmp_path):
    from catalog.importing.products import MAX_TITLE, products_upsert
    from catalog.models import Product

    # given a product whose title is 1,200 characters (a shape found in a public set), and its event
    title = " ".join(["word"] * 240)
    report = products_upsert(rows=[{"id": "LONG", "title": title, "description": "More."}])
    events = events_ingest(
        rows=[{"customer": "C", "product": "LONG", "type": "purchase", "timestamp": "2024-03-01T10:00:00Z"}]
    )

    # then the product is stored with a display title cut at a word, the full title kept at the
    # start of the description (what is embedded), a row warning says so, and its event is stored
    product = Product.objects.get(external_id="LONG")
    assert report.errors == [] and report.created == 1
    assert len(product.title) <= MAX_TITLE and product.title.endswith("word…")
    assert product.description == f"{title}\nMore."
    assert [(w.line, w.field) for w in report.warnings] == [(1, "title")]
    assert "1199 characters" in report.warnings[0].message
    assert events.created == 1
