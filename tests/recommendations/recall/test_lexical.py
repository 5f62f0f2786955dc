"""The lexical route: every word first, any word when too few products hold them all; the stored
document follows the product's text."""

import pytest

from catalog.models import Product
from recommendations.recall.lexical import lexical_candidates
from recommendations.recall.semantic import KnnFilter
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def mugs():
    both = [ProductFactory(title=f"red ceramic mug {n}") for n in range(3)]
    one = [ProductFactory(title=f"red wool scarf {n}") for n in range(3)]
    return both, one


def _pks(candidates) -> set[int]:
    return {c.product_pk for c in candidates}


def test_enough_products_holding_every_word_leave_the_others_out(mugs):
    both, _ = mugs

    found = lexical_candidates(query="red mug", n=3, knn_filter=KnnFilter())

    assert _pks(found) == {p.pk for p in both}


def test_fewer_than_a_page_holding_every_word_widen_to_any_word_with_those_first(mugs):
    both, one = mugs

    found = lexical_candidates(query="red mug", n=6, knn_filter=KnnFilter())

    assert _pks(found) == {p.pk for p in both + one}
    assert _pks(found[:3]) == {p.pk for p in both}


def test_a_corrected_word_counts_as_the_word_typed(mugs):
    both, _ = mugs

    found = lexical_candidates(query="red mgu", n=3, knn_filter=KnnFilter(), corrections=[("mgu", "mug")])

    assert _pks(found) == {p.pk for p in both}


def test_a_page_of_products_holding_every_word_is_not_widened(mugs):
    both, one = mugs
    more = [ProductFactory(title=f"red ceramic mug {n}") for n in range(3, 10)]

    found = lexical_candidates(query="red mug", n=100, knn_filter=KnnFilter())

    assert _pks(found) == {p.pk for p in both + more}
    assert not _pks(found) & {p.pk for p in one}


def test_the_document_follows_an_edited_title(mugs):
    product = mugs[1][0]
    Product.objects.filter(pk=product.pk).update(title="green enamel kettle")

    assert _pks(lexical_candidates(query="kettle", n=5, knn_filter=KnnFilter())) == {product.pk}
    assert product.pk not in _pks(lexical_candidates(query="scarf", n=5, knn_filter=KnnFilter()))
