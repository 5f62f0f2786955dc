"""Answers kept by the process: a search (or a product's similar items) asked again is answered
without reading the catalog's matches again, with the same items and facets, until the catalog
changes; nothing is kept while another transaction writes the catalog, with a fallback, or past
the bound."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext
from prometheus_client import REGISTRY

from catalog.models import Category, ProductEmbedding
from catalog.public import catalog_state_forget
from placements.public import strategy_parse
from recommendations import kept_answers
from recommendations.contracts import Candidate, FusedItem, FusedList
from recommendations.embeddings.model import encode_texts
from recommendations.kept_answers import KeptAnswer, _Kept, counts_freeze, counts_thaw
from recommendations.pipeline import search, similar_items
from recommendations.recall.fused import fuse
from tests.catalog.writers import another_transaction_writing
from tests.factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db

HYBRID = strategy_parse({"routes": {"semantic": 1}, "search": "hybrid"})
SEMANTIC = strategy_parse({"routes": {"semantic": 1.0}, "search": "semantic"}, name="search")


def _hits(kind: str = "search") -> float:
    return REGISTRY.get_sample_value("recsite_kept_answers_total", {"kind": kind, "outcome": "hit"}) or 0.0


def _embedded(*products):
    for product, vector in zip(products, encode_texts([p.embedding_text() for p in products]), strict=True):
        ProductEmbedding.objects.create(product=product, model_name="real", text_hash=product.text_hash, vector=vector)
    return products


@pytest.fixture
def catalog():
    kitchen = CategoryFactory(name="Kitchen", path="Kitchen")
    return _embedded(
        ProductFactory(external_id="mug", title="red ceramic coffee mug", brand="Acme", category=kitchen),
        ProductFactory(external_id="cup", title="blue ceramic tea cup", brand="Acme", category=kitchen),
        ProductFactory(external_id="scarf", title="wool winter scarf", price=Decimal("30.00")),
    )


def _matching_statements(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if "ts_rank" in q["sql"] or "<=>" in q["sql"]]


def _ids(found) -> list[str]:
    return [item.product_id for item in found.items]


def test_a_search_asked_again_is_answered_from_what_the_process_kept(catalog):
    first = search(query="ceramic mug", k=3, strategy=HYBRID)
    hits = _hits()

    with CaptureQueriesContext(connection) as queries:
        again = search(query="ceramic mug", k=3, strategy=HYBRID)

    assert _hits() == hits + 1
    assert _matching_statements(queries) == []  # neither the lexical match nor the kNN ran again
    assert _ids(again) == _ids(first) and _ids(first)[0] == "mug"
    assert again.facets == first.facets and again.facets["category"] == {"Kitchen": 2}
    assert again.matched == first.matched
    assert [item.routes for item in again.items] == [item.routes for item in first.items]
    assert [item.score for item in again.items] == [item.score for item in first.items]


def test_another_k_or_category_is_another_search(catalog):
    search(query="ceramic mug", k=3, strategy=HYBRID)
    hits = _hits()

    search(query="ceramic mug", k=2, strategy=HYBRID)
    search(query="ceramic mug", k=3, category="Kitchen", strategy=HYBRID)

    assert _hits() == hits


def test_a_product_written_after_a_search_is_found_by_the_next(catalog):
    before = search(query="ceramic bowl", k=3, strategy=HYBRID)
    _embedded(ProductFactory(external_id="bowl", title="white ceramic bowl"))
    retitled = catalog[2]
    retitled.title = "ceramic scarf clip"
    retitled.save()

    after = search(query="ceramic bowl", k=3, strategy=HYBRID)

    assert "bowl" not in _ids(before)
    assert _ids(after)[0] == "bowl"


def test_within_a_check_interval_the_kept_answer_stands_and_the_next_check_drops_it(catalog, settings):
    settings.CATALOG_CHECK_SECONDS = 3600
    catalog_state_forget()
    search(query="ceramic bowl", k=3, strategy=HYBRID)
    _embedded(ProductFactory(external_id="bowl", title="white ceramic bowl"))

    kept = search(query="ceramic bowl", k=3, strategy=HYBRID)
    catalog_state_forget()  # what the next check (or a catalog write in this process) does
    checked = search(query="ceramic bowl", k=3, strategy=HYBRID)

    assert "bowl" not in _ids(kept)
    assert _ids(checked)[0] == "bowl"


@pytest.mark.django_db(transaction=True)
def test_nothing_is_kept_while_another_transaction_writes_the_catalog(catalog):
    with another_transaction_writing(lambda: Category.objects.create(name="Garden", path="Garden")):
        hits = _hits()
        search(query="ceramic mug", k=3, strategy=HYBRID)
        search(query="ceramic mug", k=3, strategy=HYBRID)
        assert _hits() == hits

    search(query="ceramic mug", k=3, strategy=HYBRID)
    search(query="ceramic mug", k=3, strategy=HYBRID)
    assert _hits() == hits + 1


def test_a_fallback_answer_is_not_kept(catalog, settings):
    settings.EMBEDDING_MODEL = "/nonexistent/model-that-was-deleted"
    hits = _hits()

    first = search(query="ceramic mug", k=3, strategy=SEMANTIC)
    search(query="ceramic mug", k=3, strategy=SEMANTIC)

    assert first.fallback is not None
    assert _hits() == hits


def test_search_answers_without_kept_answers_when_the_catalog_state_cannot_be_read(catalog, monkeypatch):
    def unreadable():
        raise DatabaseError("the primary is down")

    monkeypatch.setattr(kept_answers, "catalog_state", unreadable)
    hits = _hits()

    found = [search(query="ceramic mug", k=3, strategy=HYBRID) for _ in range(2)]

    assert [_ids(f)[0] for f in found] == ["mug", "mug"]
    assert _hits() == hits


def test_at_most_the_bound_is_kept_the_least_recently_asked_dropped(catalog, settings):
    settings.SEARCH_ANSWERS_KEPT = 2
    for query in ("ceramic mug", "tea cup", "ceramic mug", "winter scarf"):
        search(query=query, k=3, strategy=HYBRID)
    hits = _hits()

    search(query="ceramic mug", k=3, strategy=HYBRID)  # kept: asked again after the cup
    search(query="tea cup", k=3, strategy=HYBRID)  # dropped by the scarf

    assert _hits() == hits + 1


def test_zero_keeps_none(catalog, settings):
    settings.SEARCH_ANSWERS_KEPT = 0
    hits = _hits()

    search(query="ceramic mug", k=3, strategy=HYBRID)
    search(query="ceramic mug", k=3, strategy=HYBRID)

    assert _hits() == hits


def test_similar_items_asked_again_are_answered_from_what_the_process_kept_until_the_catalog_changes(catalog):
    first = similar_items(product_id="mug", k=2)
    hits = _hits("similar")

    with CaptureQueriesContext(connection) as queries:
        again = similar_items(product_id="mug", k=2)
    kitchen = CategoryFactory(name="Kitchen", path="Kitchen")
    _embedded(ProductFactory(external_id="mug2", title="red ceramic coffee mug", brand="Acme", category=kitchen))
    changed = similar_items(product_id="mug", k=2)

    assert _hits("similar") == hits + 1
    assert _matching_statements(queries) == []  # no kNN
    # (the catalog's state is read in a savepoint of the test's transaction)
    read = [
        q["sql"] for q in queries.captured_queries if not ("catalog_generation" in q["sql"] or "SAVEPOINT" in q["sql"])
    ]
    assert len(read) == 1 and "catalog_itemneighbor" not in read[0]  # the rules' read of the candidates only
    assert [i.product_id for i in again.items] == [i.product_id for i in first.items]
    assert [i.routes for i in again.items] == [i.routes for i in first.items]
    assert changed.items[0].product_id == "mug2"


def test_what_is_kept_reads_back_as_it_was_given():
    ranked = [
        FusedItem(product_pk=7, score=0.03, routes={"lexical": 1.0, "semantic": 0.5}, seeds={"itemcf": 4}),
        FusedItem(product_pk=3, score=0.02, routes={"semantic": 1.0}),
    ]
    facets = {"brand": {"Acme": 2}}
    answer = KeptAnswer(ranked=ranked, extra=("hybrid", frozenset({7}), counts_freeze(facets)))

    kept = _Kept.of(answer)
    back = kept.answer()

    assert list(back.ranked) == ranked
    assert back.extra == answer.extra and counts_thaw(back.extra[2]) == facets
    back.ranked.pks.append(99)  # a caller's change is its own
    assert kept.answer().ranked.pks == [7, 3]


def test_a_fused_list_is_kept_from_its_columns_without_building_its_items(monkeypatch):
    ranked = fuse(
        candidates={
            "itemcf": [
                Candidate(product_pk=pk, route="itemcf", score=1.0 / pk, seed_pk=pk + 1) for pk in range(1, 300)
            ],
            "semantic": [Candidate(product_pk=pk, route="semantic", score=0.9 - pk / 1000) for pk in range(150, 450)],
        },
        weights={"itemcf": 1.0, "semantic": 0.5},
    )
    expected = list(ranked)

    def built(self, i):
        raise AssertionError("an item was built")

    monkeypatch.setattr(FusedList, "_item", built)
    kept = _Kept.of(KeptAnswer(ranked=ranked, extra=12))
    monkeypatch.undo()

    assert list(kept.answer().ranked) == expected
