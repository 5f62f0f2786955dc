"""The conversations API end to end: a shopper refines a list in turns through the normal serving
path; the model's reading is used when it validates, the rule parser's otherwise, and the answer
says which; bad input is a clear 4xx."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.utils import timezone

from catalog.models import ItemPopularity, Product
from placements.defaults import default_strategies_forget, default_strategy_save
from recommendations.conversation.vocabulary import vocabulary_forget
from recommendations.filters import attribute_keys_forget
from recommendations.models import ServedList
from recommendations.reasons.backend_choice import _backend
from recommendations.recall import popularity
from recommendations.rules.active import rules_forget
from tests.factories import CategoryFactory, ProductFactory
from tests.recommendations.reasons_fixtures import ChatServer

pytestmark = pytest.mark.django_db

CONVERSATIONS = "/api/v1/conversations/"
PRODUCTS = [
    # id, title, price, brand, color, category
    ("mug-red", "RED CERAMIC MUG", "3.00", "Acme", "red", "Kitchen"),
    ("mug-blue", "BLUE CERAMIC MUG", "4.00", "Acme", "blue", "Kitchen"),
    ("vase", "BLUE GLASS VASE", "12.00", "Globex", "blue", "Home"),
    ("teapot", "RED CERAMIC TEAPOT", "15.00", "Globex", "red", "Kitchen"),
    ("lunchbox", "CHILD LUNCH BOX", "6.00", "Acme", "blue", "Kids"),
    ("train", "WOODEN TOY TRAIN FOR A CHILD", "8.00", "Globex", "red", "Kids"),
    ("bag", "BLUE SMUGGLERS BAG", "20.00", "Globex", "blue", "Home"),
]


@pytest.fixture(autouse=True)
def shop():
    for forget in (popularity._cache.clear, rules_forget, attribute_keys_forget, vocabulary_forget):
        forget()
    _backend.cache_clear()
    categories = {}
    for rank, (pid, title, price, brand, color, category) in enumerate(PRODUCTS):
        if category not in categories:
            categories[category] = CategoryFactory(name=category, path=f"Home > {category}")
        product = ProductFactory(
            external_id=pid,
            title=title,
            price=price,
            brand=brand,
            attributes={"color": color},
            category=categories[category],
        )
        ItemPopularity.objects.create(product=product, score=10.0 - rank, computed_at=timezone.now())
    # search by keyword (no embedding model needed), ordered by popularity among the matches
    default_strategy_save(placement="search", config={"routes": {"popularity": 1.0}, "search": "keyword"})
    default_strategies_forget()
    yield
    for forget in (popularity._cache.clear, rules_forget, attribute_keys_forget, vocabulary_forget):
        forget()
    _backend.cache_clear()
    default_strategies_forget()


def ids(body) -> list[str]:
    return [item["id"] for item in body["items"]]


def turn(client, conversation_id: str, message: str):
    return client.post(f"{CONVERSATIONS}{conversation_id}/turns/", {"message": message}, format="json")


def test_a_shopper_refines_the_list_turn_by_turn_with_the_rule_parser(storefront_client):
    # given a conversation started with a wish
    started = storefront_client.post(CONVERSATIONS, {"message": "ceramic", "k": 5}, format="json")
    body = started.json()
    assert started.status_code == 201
    assert (body["parser"], body["parser_note"]) == (
        "rule",
        "no language model is configured (REASON_BACKEND=grounded)",
    )
    assert (body["placement"], body["state"]["query"]) == ("search", "ceramic")
    assert set(ids(body)) == {"mug-red", "mug-blue", "teapot"}
    conversation = body["conversation_id"]
    # when the shopper asks for something cheaper: below 80% of the list's median price (4.00)
    body = turn(storefront_client, conversation, "cheaper").json()
    assert body["state"]["price_max"] == "3.20"
    assert ids(body) == ["mug-red"]
    # and "start over", then blue things but no mugs: an attribute filter and an exclusion
    turn(storefront_client, conversation, "start over")
    body = turn(storefront_client, conversation, "in blue, no mugs").json()
    assert body["changes"] == {"attributes": {"color": "blue"}, "exclude": ["mug"]}
    # (a word of the title starting with the term is struck: MUG, not SMUGGLERS)
    assert (body["placement"], set(ids(body))) == ("home_feed", {"vase", "lunchbox", "bag"})
    # and something for a child: a query amendment, kept with the filters
    body = turn(storefront_client, conversation, "something for a child").json()
    assert body["state"] == {
        "query": "child",
        "price_min": None,
        "price_max": None,
        "brands": [],
        "attributes": {"color": "blue"},
        "exclude": ["mug"],
    }
    assert ids(body) == ["lunchbox"]
    assert body["turn"] == 5
    # and every list went through the normal serving path (served lists kept)
    assert ServedList.objects.filter(recommendation_id=body["recommendation_id"]).exists()


def test_what_the_catalog_cannot_express_is_said_in_the_answer(storefront_client):
    conversation = storefront_client.post(CONVERSATIONS, {}, format="json").json()["conversation_id"]
    body = turn(storefront_client, conversation, "in purple").json()
    assert body["ignored"] == ["no product has the colour 'purple'"]
    assert body["changes"] == {}


def test_the_model_reads_the_turn_when_its_answer_validates_else_the_rules_do(storefront_client, settings):
    # given an OpenAI-compatible endpoint answering JSON for one turn and chatter for the next
    answers = iter(
        [
            json.dumps({"add_query": "", "brands": ["globex"], "attributes": {"color": "red"}}),
            "Sorry, I am not sure what you mean.",
        ]
    )
    with ChatServer(lambda prompt: (200, next(answers))) as server:
        settings.REASON_BACKEND = "openai"
        settings.REASON_OPENAI_URL = server.url
        settings.REASON_OPENAI_MODEL = "test-model"
        _backend.cache_clear()
        conversation = storefront_client.post(CONVERSATIONS, {}, format="json").json()["conversation_id"]
        # when a turn comes: the model's validated reading is applied
        body = turn(storefront_client, conversation, "red things from Globex").json()
        assert (body["parser"], body["parser_note"]) == ("model", "")
        assert body["changes"] == {"brands": ["Globex"], "attributes": {"color": "red"}}
        assert set(ids(body)) == {"teapot", "train"}
        prompt = server.requests[0]["body"]["messages"][0]["content"]
        assert (
            "Globex" in prompt and "color=red" in prompt and prompt.endswith("Request: red things from Globex\nJSON:")
        )
        # when the model answers something that is not JSON: the rule parser reads the turn
        body = turn(storefront_client, conversation, "cheaper").json()
        assert (body["parser"], body["parser_note"]) == ("rule", "the model's answer holds no JSON object")
        assert Decimal(body["state"]["price_max"]) < Decimal("15")


def test_an_unknown_or_expired_conversation_is_a_404(storefront_client, settings):
    response = turn(storefront_client, "no-such-conversation", "cheaper")
    assert response.status_code == 404
    assert "expired" in response.json()["error"]["message"]
    # a conversation kept for no time at all has expired by its next turn
    settings.CONVERSATION_TTL_S = 0
    conversation = storefront_client.post(CONVERSATIONS, {}, format="json").json()["conversation_id"]
    assert turn(storefront_client, conversation, "cheaper").status_code == 404


def test_bad_turns_are_4xx_naming_the_field(storefront_client, settings):
    conversation = storefront_client.post(CONVERSATIONS, {}, format="json").json()["conversation_id"]
    too_long = turn(storefront_client, conversation, "x" * (settings.CONVERSATION_MAX_TURN_LENGTH + 1))
    assert too_long.status_code == 400 and "message" in too_long.json()["error"]["fields"]
    assert turn(storefront_client, conversation, "").status_code == 400
    assert storefront_client.post(CONVERSATIONS, {"k": 0}, format="json").status_code == 400
    # and a conversation at its maximum number of turns takes no more
    settings.CONVERSATION_MAX_TURNS = 1
    assert turn(storefront_client, conversation, "cheaper").status_code == 200
    refused = turn(storefront_client, conversation, "cheaper")
    assert refused.status_code == 409 and "start a new one" in refused.json()["error"]["message"]
    assert Product.objects.count() == len(PRODUCTS)
