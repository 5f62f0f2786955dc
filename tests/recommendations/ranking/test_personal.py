"""Personalised search: matches re-ranked towards the shopper's history, exact matches pinned."""

import pytest

from recommendations.contracts import FusedItem
from recommendations.ranking.personal import personal_blend


def _item(pk: int, score: float) -> FusedItem:
    return FusedItem(product_pk=pk, score=score, routes={"lexical": score})


def test_a_close_item_rises_but_the_search_order_still_counts_most():
    # given: 1, 2, 3 by search score; the shopper's history is close to 3, far from 1 and 2
    ranked = [_item(1, 1.0), _item(2, 0.9), _item(3, 0.8)]

    blended = personal_blend(ranked=ranked, similarities={1: 0.1, 2: 0.1, 3: 0.9}, weight=0.3)

    # then: 3 scores 0.7·0.8 + 0.3·0.9 = 0.83 > 1's 0.73 > 2's 0.66
    assert [item.product_pk for item in blended] == [3, 1, 2]
    assert [item.score for item in blended] == pytest.approx([0.83, 0.73, 0.66])
    assert blended[0].routes == {"lexical": 0.8, "personal": 0.9}


def test_pinned_exact_matches_stay_first_in_their_order():
    ranked = [_item(1, 1.0), _item(2, 0.9), _item(3, 0.8)]

    blended = personal_blend(ranked=ranked, similarities={1: 0.0, 2: 0.0, 3: 1.0}, pinned={1, 2})

    assert [item.product_pk for item in blended] == [1, 2, 3]
    assert blended[1].score > blended[2].score  # later stages re-sort by score


def test_unknown_and_negative_similarities_count_zero_and_ties_keep_the_search_order():
    ranked = [_item(1, 1.0), _item(2, 1.0), _item(3, 1.0)]

    blended = personal_blend(ranked=ranked, similarities={2: -0.5})

    assert [item.product_pk for item in blended] == [1, 2, 3]
