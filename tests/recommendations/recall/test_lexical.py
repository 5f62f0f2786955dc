"""The lexical route: every word first, any word when too few products hold them all; the stored
document follows the product's text."""

import pytest

from catalog.models import Product
from catalog.public import search_vocabulary_refresh
from recommendations.recall import lexical
from recommendations.recall.lexical import lexical_candidates, lexical_index_tsquery, lexical_widened_tsquery
from recommendations.recall.semantic import KnnFilter
from recommendations.recall.spelling import Vocabulary, vocabulary_current, vocabulary_forget
from tests.factories import CategoryFactory, ProductFactory

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
    numbers={"12": 150},
    products=10_000,
)


def test_the_index_is_asked_for_the_rarest_word_and_not_for_one_that_costs_more_than_it_rules_out():
    # hanging: 40 rows to check (80 µs); heart:* (heart and hearts, 320 postings: 96 µs) would
    # rule out 97% of them (77 µs)
    assert lexical_index_tsquery("white hanging heart", vocabulary=VOCABULARY) == "hanging:*"


def test_a_word_whose_postings_cost_less_than_the_rows_it_rules_out_is_asked_too():
    # holder: 90 postings (27 µs) against 99% of hanging's 40 rows (79 µs); then white's 5,000
    # postings against the 0.36 rows left are not worth it
    assert lexical_index_tsquery("white hanging holder", vocabulary=VOCABULARY) == "hanging:* & holder:*"
    # a typo counts with its correction: (hagning:* | hanging:*) is 40; with holder, that is every word
    assert lexical_index_tsquery("hagning holder", [("hagning", "hanging")], vocabulary=VOCABULARY) is None
    assert (
        lexical_index_tsquery("white hagning holder", [("hagning", "hanging")], vocabulary=VOCABULARY)
        == "(hagning:* | hanging:*) & holder:*"
    )


def test_short_numbers_are_counted_and_other_words_with_digits_are_checked_not_asked():
    # 12 holds 150 products, the rarest here; heart:* rules out 97% of them
    assert lexical_index_tsquery("white heart 12", vocabulary=VOCABULARY) == "heart:* & 12"
    # a number no product holds is the rarest of all (the index finds nothing, at once)
    assert lexical_index_tsquery("white heart 7", vocabulary=VOCABULARY) == "7"
    # x2 and 3x4 are not counted (a vocabulary row a SKU would be the catalog's size)
    assert lexical_index_tsquery("holder x2 3x4", vocabulary=VOCABULARY) == "holder:*"


@pytest.mark.parametrize("query", ["heart", "hanging hearts", "x2 3x4"])
def test_one_word_every_word_worth_asking_or_no_counted_word_leaves_the_whole_query_to_the_index(query):
    assert lexical_index_tsquery(query, vocabulary=VOCABULARY) is None


def test_asking_the_index_for_the_rarest_word_finds_the_products_holding_every_word():
    every = [ProductFactory(title=f"white hanging heart holder {n}") for n in range(10)]
    # the rarest word alone, or all but it: neither holds every word
    ProductFactory(title="hanging basket")
    ProductFactory(title="white heart holder")
    ProductFactory.create_batch(30, title="white heart")
    search_vocabulary_refresh()
    vocabulary_forget()
    # hanging (11 products) is asked; heart or white (41 each) at most beside it, never all three
    asked = lexical_index_tsquery("white hanging heart", vocabulary=vocabulary_current())
    assert asked is not None and "hanging:*" in asked

    found = lexical_candidates(query="white hanging heart", n=20, knn_filter=KnnFilter())

    assert _pks(found) == {p.pk for p in every}


def test_a_widened_match_is_found_by_the_rarer_words_within_the_bound(monkeypatch):
    monkeypatch.setattr(lexical, "WIDEN_MAX_PRODUCTS", 400)

    # hanging 40, then heart:* 320 (heart and hearts): 360; white's 5,000 would pass 400
    assert lexical_widened_tsquery("white hanging heart", vocabulary=VOCABULARY, page=1000) == "hanging:* | heart:*"
    # the rarest is kept, however common
    assert lexical_widened_tsquery(
        "white hearts", vocabulary=Vocabulary(words=("white",), counts={"white": 900}), page=1000
    ) == ("hearts:*")
    # a short number is counted for the index's choice, never to find a widened match's rows
    assert lexical_widened_tsquery("white hanging heart 12", vocabulary=VOCABULARY, page=1000) == "hanging:* | heart:*"
    # every word within the bound: the whole any-word query
    assert lexical_widened_tsquery("hanging hearts", vocabulary=VOCABULARY, page=1000) is None


def test_a_widened_match_stops_at_the_rarest_words_that_hold_a_page():
    # hanging's 40 products hold a page of 30: heart's are not asked for
    assert lexical_widened_tsquery("white hanging heart", vocabulary=VOCABULARY, page=30) == "hanging:*"
    # 40 do not hold 100: heart:* joins (360), which does
    assert lexical_widened_tsquery("white hanging heart", vocabulary=VOCABULARY, page=100) == "hanging:* | heart:*"


def test_a_widened_search_fills_its_page_with_the_rarest_words_matches():
    both = ProductFactory(title="vintage travelogue tin")
    rare = ProductFactory.create_batch(2, title="travelogue notebook")
    common = ProductFactory.create_batch(12, title="vintage tin")
    search_vocabulary_refresh()
    vocabulary_forget()

    # travelogue's 3 products hold a page of 3; the one holding both words first
    found = lexical_candidates(query="vintage travelogue", n=3, knn_filter=KnnFilter())
    assert [c.product_pk for c in found][:1] == [both.pk]
    assert _pks(found) == {both.pk, *(p.pk for p in rare)}
    # a page of 20 needs vintage's products too
    found = lexical_candidates(query="vintage travelogue", n=20, knn_filter=KnnFilter())
    assert _pks(found) == {both.pk, *(p.pk for p in rare + common)}


def test_a_widened_search_the_filters_leave_short_takes_the_commoner_words_within_the_bound():
    # travelogue's 3 products hold a page of 3, but none is in the category asked for
    ProductFactory(title="vintage travelogue tin")
    ProductFactory.create_batch(2, title="travelogue notebook")
    kitchen = CategoryFactory(path="kitchen")
    tins = ProductFactory.create_batch(12, title="vintage tin", category=kitchen)
    search_vocabulary_refresh()
    vocabulary_forget()

    found = lexical_candidates(query="vintage travelogue", n=3, knn_filter=KnnFilter(category_path="kitchen"))

    assert len(found) == 3 and _pks(found) <= {p.pk for p in tins}


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
