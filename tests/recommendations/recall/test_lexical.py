"""The lexical route: every word first, any word when too few products hold them all; the stored
document follows the product's text."""

import pytest

from catalog.models import Product
from catalog.public import search_vocabulary_refresh
from recommendations.recall import lexical
from recommendations.recall.lexical import lexical_candidates, lexical_index_tsquery, lexical_widened_tsquery
from recommendations.recall.semantic import KnnFilter
from recommendations.recall.spelling import Vocabulary, vocabulary_current, vocabulary_forget
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


VOCABULARY = Vocabulary(
    words=("hanging", "heart", "hearts", "holder", "white"),
    counts={"hanging": 40, "heart": 300, "hearts": 20, "holder": 90, "white": 5000},
)


def test_the_index_is_asked_for_the_most_selective_word_only():
    # heart:* also matches "hearts": 320 products, against hanging's 40
    assert lexical_index_tsquery("white hanging heart", vocabulary=VOCABULARY) == "hanging:*"
    # a typo counts with its correction: (hagning:* | hanging:*) is 40, holder 90
    assert (
        lexical_index_tsquery("hagning holder", [("hagning", "hanging")], vocabulary=VOCABULARY)
        == "(hagning:* | hanging:*)"
    )


def test_words_nearly_as_rare_as_the_rarest_are_asked_of_the_index_too():
    # holder (90) is within twice hanging's 40 only once hanging is commoner: hearts is 20
    assert lexical_index_tsquery("white hanging holder", vocabulary=VOCABULARY) == "hanging:*"
    assert lexical_index_tsquery("white hearts hanging", vocabulary=VOCABULARY) == "hearts:* & hanging:*"


def test_words_with_digits_are_checked_not_asked_of_the_index():
    # the vocabulary does not count them
    assert lexical_index_tsquery("white heart 12", vocabulary=VOCABULARY) == "heart:*"
    assert lexical_index_tsquery("set 12 x2", vocabulary=Vocabulary()) == "set:*"


@pytest.mark.parametrize("query", ["heart", "hanging hearts", "12 x2"])
def test_one_word_or_an_uncounted_word_leaves_the_whole_query_to_the_index(query):
    assert lexical_index_tsquery(query, vocabulary=VOCABULARY) is None


def test_asking_the_index_for_the_rarest_word_finds_the_products_holding_every_word():
    every = [ProductFactory(title=f"white hanging heart holder {n}") for n in range(10)]
    # the rarest word alone, or all but it: neither holds every word
    ProductFactory(title="hanging basket")
    ProductFactory(title="white heart holder")
    ProductFactory.create_batch(30, title="white heart")
    search_vocabulary_refresh()
    vocabulary_forget()
    assert lexical_index_tsquery("white hanging heart", vocabulary=vocabulary_current()) == "hanging:*"

    found = lexical_candidates(query="white hanging heart", n=20, knn_filter=KnnFilter())

    assert _pks(found) == {p.pk for p in every}


def test_a_widened_match_is_found_by_the_rarer_words_within_the_bound(monkeypatch):
    monkeypatch.setattr(lexical, "WIDEN_MAX_PRODUCTS", 400)

    # hanging 40, then heart:* 320 (heart and hearts): 360; white's 5,000 would pass 400
    assert lexical_widened_tsquery("white hanging heart", vocabulary=VOCABULARY) == "hanging:* | heart:*"
    # the rarest is kept, however common
    assert lexical_widened_tsquery("white hearts", vocabulary=Vocabulary(words=("white",), counts={"white": 900})) == (
        "hearts:*"
    )
    # every word within the bound: the whole any-word query
    assert lexical_widened_tsquery("hanging hearts", vocabulary=VOCABULARY) is None


def test_a_widened_search_ranks_the_rarer_words_matches_and_leaves_the_common_words_alone(monkeypatch):
    rare = ProductFactory(title="travelogue notebook")
    common = ProductFactory.create_batch(12, title="vintage tin")
    search_vocabulary_refresh()
    vocabulary_forget()
    monkeypatch.setattr(lexical, "WIDEN_MAX_PRODUCTS", 5)

    found = lexical_candidates(query="vintage travelogue", n=20, knn_filter=KnnFilter())

    assert _pks(found) == {rare.pk}
    monkeypatch.setattr(lexical, "WIDEN_MAX_PRODUCTS", 20_000)
    assert _pks(lexical_candidates(query="vintage travelogue", n=20, knn_filter=KnnFilter())) == {
        rare.pk,
        *(p.pk for p in common),
    }
