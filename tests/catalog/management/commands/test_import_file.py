"""import_catalog / import_events: summary, first errors, --errors-json, exit codes."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from catalog.models import Event, Product
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


def test_import_catalog_prints_summary_and_errors_and_writes_them_as_json(tmp_path):
    # given
    path = tmp_path / "products.jsonl"
    path.write_text('{"id": "P1", "title": "Mug"}\n{"id": "P2"}\n')
    errors_path = tmp_path / "errors.json"
    out = StringIO()

    # when
    call_command("import_catalog", str(path), "--no-embed-request", "--errors-json", str(errors_path), stdout=out)

    # then
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("products: received 2, created 1, updated 0, unchanged 0, errors 1 (")
    assert lines[1:] == ["  line 2: title: is required"]
    assert json.loads(errors_path.read_text()) == [{"line": 2, "field": "title", "message": "is required"}]
    assert list(Product.objects.values_list("external_id", flat=True)) == ["P1"]


def test_import_catalog_asks_for_embeddings_when_products_changed(tmp_path, monkeypatch):
    # given
    requests = []
    monkeypatch.setattr("catalog.dispatch.request_embedding", lambda: requests.append(1) or True)
    path = tmp_path / "products.csv"
    path.write_text("id,title\nP1,Mug\n")

    # when imported twice
    first, second = StringIO(), StringIO()
    call_command("import_catalog", str(path), stdout=first)
    call_command("import_catalog", str(path), stdout=second)

    # then only the import that changed something asked
    assert requests == [1]
    assert "embedding requested" in first.getvalue()
    assert "embedding requested" not in second.getvalue()


def test_import_events_with_format_flag_and_unreadable_file(tmp_path):
    # given a CSV without a telling extension
    ProductFactory(external_id="P1")
    path = tmp_path / "events.txt"
    path.write_text("customer,product,type,timestamp\nC1,P1,view,2024-01-01T00:00:00Z\n")
    out = StringIO()

    # when
    call_command("import_events", str(path), "--format", "csv", stdout=out)

    # then
    assert out.getvalue().startswith("events: received 1, created 1, updated 0, unchanged 0, errors 0 (")
    assert Event.objects.count() == 1
    with pytest.raises(CommandError, match="cannot read"):
        call_command("import_events", str(tmp_path / "missing.jsonl"))
    with pytest.raises(CommandError, match="cannot tell the format"):
        call_command("import_events", str(path))


def test_import_catalog_recounts_the_search_vocabulary(tmp_path):
    from recommendations.recall.spelling import vocabulary_load

    path = tmp_path / "products.csv"
    path.write_text("id,title\nP1,Enamel Teapot\n")

    call_command("import_catalog", str(path), "--no-embed-request", stdout=StringIO())

    assert vocabulary_load().counts == {"enamel": 1, "teapot": 1}
