"""Typo correction: a query word the catalog does not use becomes the closest word it does."""

import pytest

from catalog.public import search_vocabulary_refresh
from recommendations.recall.spelling import Vocabulary, query_correct, vocabulary_load, word_correct
from tests.factories import ProductFactory

VOCABULARY = Vocabulary(
    words=("candle", "christmas", "handle", "holder", "lantern", "mug", "tea"),
    counts={"candle": 30, "christmas": 50, "handle": 5, "holder": 20, "lantern": 8, "mug": 12, "tea": 9},
)


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("chrsitmas", "christmas"),  # two letters swapped: one edit
        ("hodler", "holder"),
        ("lanterns", "lantern"),  # one letter too many
        ("crhistmass", "christmas"),  # a swap and an extra letter: two edits in a long word
    ],
)
def test_misspelt_words_become_the_closest_catalog_word(typed, meant):
    assert word_correct(typed, vocabulary=VOCABULARY) == meant


def test_a_tie_in_distance_goes_to_the_word_more_products_use():
    # `xandle` is one edit from both candle (30 products) and handle (5)
    assert word_correct("xandle", vocabulary=VOCABULARY) == "candle"


@pytest.mark.parametrize(
    "typed",
    [
        "candle",  # known
        "chris",  # begins a known word: the lexical route matches it as a prefix
        "mgu",  # too short to correct
        "85123a",  # a SKU
        "hodlre",  # two edits in a short word
        "qwerty",  # nothing close
    ],
)
def test_known_short_prefix_sku_or_far_words_are_kept(typed):
    assert word_correct(typed, vocabulary=VOCABULARY) is None


def test_the_query_keeps_its_other_text_and_lists_the_changes():
    correction = query_correct("Red chrsitmas  Candel!", vocabulary=VOCABULARY)

    assert correction.query == "Red christmas  candle!"
    assert correction.changes == (("chrsitmas", "christmas"), ("Candel", "candle"))


def test_a_query_without_typos_is_unchanged():
    assert query_correct("tea mug", vocabulary=VOCABULARY).changes == ()


@pytest.mark.django_db
def test_the_vocabulary_is_the_catalogs_title_brand_and_sku_words_with_product_counts():
    ProductFactory(external_id="85123A", title="White Hanging Heart", brand="Acme")
    # A word twice in one title counts one product.
    ProductFactory(external_id="85123B", title="Red Heart Candle Heart", brand="")
    # Read as last counted: the new products' words arrive with the next refresh.
    assert vocabulary_load().counts == {}
    search_vocabulary_refresh()

    vocabulary = vocabulary_load()

    assert vocabulary.counts == {"white": 1, "hanging": 1, "heart": 2, "acme": 1, "red": 1, "candle": 1}
    assert vocabulary.words == tuple(sorted(vocabulary.counts))


@pytest.mark.django_db
def test_short_numbers_are_counted_apart_from_the_words_and_never_a_correction():
    ProductFactory(external_id="85123A", title="Set of 4 Cups")
    ProductFactory(external_id="85123B", title="Set of 12 Cups 250ml")
    ProductFactory(external_id="85123C", title="Set of 4 Jars")
    search_vocabulary_refresh()

    vocabulary = vocabulary_load()

    # 85123a, 250ml and 250 (a SKU, a size) are not counted
    assert vocabulary.numbers == {"4": 2, "12": 1}
    assert vocabulary.counts == {"set": 3, "of": 3, "cups": 2, "jars": 1}
    assert vocabulary.products >= 3
    assert query_correct("set of 5 cupz", vocabulary=vocabulary).changes == (("cupz", "cups"),)


def test_a_vocabulary_that_cannot_be_loaded_leaves_the_query_as_typed_and_counts_a_fallback(db, monkeypatch):
    from django.db import OperationalError

    from recommendations.recall import spelling
    from recsite.metrics import FALLBACKS

    # given a database that fails the vocabulary's query (the failure under test)
    def failing() -> None:
        raise OperationalError("canceling statement due to statement timeout")

    monkeypatch.setattr(spelling._vocabulary, "get", failing)
    before = FALLBACKS.labels(stage="search", reason="spelling_unavailable")._value.get()

    # when a misspelt query is corrected
    correction = query_correct("vintgae mug")

    # then nothing is corrected, and the fallback is counted
    assert (correction.query, correction.changes) == ("vintgae mug", ())
    assert FALLBACKS.labels(stage="search", reason="spelling_unavailable")._value.get() == before + 1


def test_a_prefix_counts_the_products_of_every_word_it_begins():
    assert VOCABULARY.prefix_products("ch") == 50
    assert VOCABULARY.prefix_products("h") == 5 + 20
    assert VOCABULARY.prefix_products("mug") == 12
    assert VOCABULARY.prefix_products("zebra") == 0
