"""The language model's reading of a turn: its JSON is validated against the catalog before use."""

from __future__ import annotations

from decimal import Decimal

import pytest

from recommendations.conversation.changes import PRICE_DOWN, TurnChanges
from recommendations.conversation.model import ModelParseFailed, model_output_parse
from recommendations.conversation.rules import Vocabulary

VOCABULARY = Vocabulary(brands={"acme": "Acme"}, values={"blue": (("color", "blue"),)}, keys=frozenset({"color"}))


def test_valid_json_around_chatter_becomes_changes_in_the_catalogs_spelling():
    output = (
        'Sure! {"add_query": "for a child", "price": "cheaper", "brands": ["ACME"], '
        '"attributes": {"color": "Blue"}, "exclude": ["Mugs"], "price_max": 20} Hope that helps.'
    )
    text = "something for a child, cheaper, blue, by acme, under 20 and no mugs"
    assert model_output_parse(output=output, vocabulary=VOCABULARY, text=text) == TurnChanges(
        query_terms=("for", "child"),
        price_direction=PRICE_DOWN,
        price_max=Decimal("20"),
        brands=("Acme",),
        attributes=(("color", "blue"),),
        exclude_terms=("mug",),
    )


@pytest.mark.parametrize(
    ("output", "reason"),
    [
        ("I cannot help with that.", "holds no JSON object"),
        ('{"add_query": "mug",}', "does not parse"),
        ('{"colour": "blue"}', "unknown keys: colour"),
        ('{"attributes": {"color": "purple"}}', "no product has color 'purple'"),
        ('{"brands": ["Globex"]}', "no product has the brand 'Globex'"),
        ('{"price": "free"}', "price 'free' is not cheaper, pricier or null"),
        ('{"price_max": -3}', "price_max is not a price"),
        ('{"exclude": "mugs"}', "exclude is not a list of text"),
    ],
)
def test_output_that_does_not_validate_is_refused_with_the_reason(output, reason):
    with pytest.raises(ModelParseFailed, match=reason):
        model_output_parse(output=output, vocabulary=VOCABULARY, text="a blue mug by acme or globex, purple")


@pytest.mark.parametrize(
    ("text", "output", "reason"),
    [
        # what a small model does with worked examples: copies one back
        ("a holder", '{"add_query": "stars", "exclude": []}', "add_query 'stars' is not in the shopper's words"),
        ("no bags", '{"exclude": ["cushion"]}', "exclude 'cushion' is not in the shopper's words"),
        ("under 3", '{"price_max": 8, "price_min": 2}', "price_min 2 is not a number the shopper wrote"),
        ("in blue", '{"brands": ["Acme"]}', "brands 'acme' is not in the shopper's words"),
        ("by acme", '{"attributes": {"color": "blue"}}', "attributes 'blue' is not in the shopper's words"),
    ],
)
def test_output_that_the_shopper_did_not_ask_for_is_refused(text, output, reason):
    with pytest.raises(ModelParseFailed, match=reason):
        model_output_parse(output=output, vocabulary=VOCABULARY, text=text)


def test_grounded_output_matches_plurals_and_written_prices():
    # given a turn with a plural, a price with its currency and a decimal point
    text = "no mugs under £7.50 with hearts"

    # when the model's answer uses the singular and the number
    changes = model_output_parse(
        output='{"add_query": "heart", "exclude": ["mug"], "price_max": 7.5}', vocabulary=VOCABULARY, text=text
    )

    # then it is accepted
    assert changes == TurnChanges(query_terms=("heart",), exclude_terms=("mug",), price_max=Decimal("7.5"))
