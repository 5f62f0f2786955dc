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
    assert model_output_parse(output=output, vocabulary=VOCABULARY) == TurnChanges(
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
        model_output_parse(output=output, vocabulary=VOCABULARY)
