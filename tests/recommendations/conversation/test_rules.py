"""The rule parser and the state: each kind of turn becomes the right change, and what the
catalog cannot express is reported, not searched for."""

from __future__ import annotations

from decimal import Decimal

import pytest

from recommendations.conversation.changes import PRICE_DOWN, PRICE_UP, ConversationState, TurnChanges, state_apply
from recommendations.conversation.rules import Vocabulary, rule_parse, singular

VOCABULARY = Vocabulary(
    brands={"acme": "Acme", "green leaf": "Green Leaf"},
    values={"blue": (("color", "blue"),), "red": (("color", "red"),), "large": (("size", "L"),)},
    keys=frozenset({"color", "size"}),
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cheaper", TurnChanges(price_direction=PRICE_DOWN)),
        ("something more expensive", TurnChanges(price_direction=PRICE_UP)),
        ("under £20", TurnChanges(price_max=Decimal("20"))),
        ("at least 5.50", TurnChanges(price_min=Decimal("5.50"))),
        ("in blue", TurnChanges(attributes=(("color", "blue"),))),
        ("no mugs please", TurnChanges(exclude_terms=("mug",))),
        ("without the boxes", TurnChanges(exclude_terms=("box",))),
        ("something for a child", TurnChanges(query_terms=("child",))),
        ("by Green Leaf, large", TurnChanges(brands=("Green Leaf",), attributes=(("size", "L"),))),
        ("start over", TurnChanges(reset=True)),
    ],
)
def test_each_kind_of_turn_becomes_its_change(text, expected):
    parsed = rule_parse(text, VOCABULARY)
    assert parsed.changes == expected
    assert parsed.ignored == ()


def test_what_the_catalog_cannot_express_is_reported_not_searched():
    parsed = rule_parse("in purple, size xxl", VOCABULARY)
    assert parsed.changes == TurnChanges()
    assert parsed.ignored == ("no product has the colour 'purple'", "no product has size 'xxl'")
    assert rule_parse("please", VOCABULARY).ignored == (
        "nothing in this turn maps to a filter, an exclusion, a price or a search term",
    )


def test_a_catalog_without_a_colour_attribute_searches_colours_in_the_titles():
    titles_only = Vocabulary(brands={}, values={}, keys=frozenset())
    assert rule_parse("in purple", titles_only).changes == TurnChanges(query_terms=("purple",))


def test_plurals_are_matched_by_their_stem():
    assert [singular(w) for w in ("mugs", "boxes", "candies", "glass", "tea")] == [
        "mug",
        "box",
        "candy",
        "glass",
        "tea",
    ]


def test_state_accumulates_turns_and_cheaper_moves_below_the_list_shown():
    state, ignored = state_apply(ConversationState(), TurnChanges(query_terms=("mug",)), median_price=None)
    state, _ = state_apply(state, TurnChanges(attributes=(("color", "red"),)), median_price=Decimal("10"))
    state, _ = state_apply(state, TurnChanges(attributes=(("color", "blue"),)), median_price=Decimal("10"))
    state, _ = state_apply(state, TurnChanges(price_direction=PRICE_DOWN), median_price=Decimal("10"))
    state, _ = state_apply(state, TurnChanges(exclude_terms=("glass",), query_terms=("child",)), median_price=None)
    assert state == ConversationState(
        query="mug child", price_max=Decimal("8.00"), attributes=(("color", "blue"),), exclude_terms=("glass",)
    )
    assert ignored == []
    # the JSON form reads back to the same state
    assert ConversationState.from_json(state.as_json()) == state
    # and a reset empties it
    assert state_apply(state, TurnChanges(reset=True), median_price=None)[0] == ConversationState()


def test_a_price_direction_without_prices_and_an_empty_range_are_reported():
    _, ignored = state_apply(ConversationState(), TurnChanges(price_direction=PRICE_UP), median_price=None)
    assert ignored == ["price up: the list has no prices to move from"]
    state, ignored = state_apply(
        ConversationState(price_min=Decimal("30")), TurnChanges(price_max=Decimal("10")), median_price=None
    )
    assert (state.price_min, state.price_max) == (None, Decimal("10"))
    assert ignored == ["price from 30 to 10 is empty; the later bound wins"]
