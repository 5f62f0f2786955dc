"""Conversational refinement: a shopper refines a list in turns ("cheaper", "in blue", "no mugs",
"something for a child"). Each turn is read into structured changes — by the configured language
model, validated against the catalog, else by the rule parser, and the answer says which and why —
applied to the conversation's state, and the list is made again through the normal serving path
(`placement_serve`: the search placement once there is a query, the home feed before), so
experiments, exposures and served lists see it as any other request.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db.models import Q

from catalog.public import Product
from placements.public import Placement
from recommendations.contracts import PlacementRequest
from recommendations.conversation.changes import ConversationState, TurnChanges, state_apply
from recommendations.conversation.model import ModelParseFailed, model_parse
from recommendations.conversation.rules import rule_parse
from recommendations.conversation.store import Conversation, conversation_load, conversation_new, conversation_save
from recommendations.conversation.vocabulary import vocabulary_current
from recommendations.filters import item_filter_build
from recommendations.serving import Served, placement_serve

PARSER_MODEL = "model"
PARSER_RULE = "rule"
# Exclusion terms match words of product titles, brands and category paths; at most this many products are
# kept out (a term matching more is too broad to be what the shopper meant, and is reported).
MAX_EXCLUDED_PRODUCTS = 1000


class TooManyTurns(Exception):
    """The conversation has reached CONVERSATION_MAX_TURNS."""


@dataclass(frozen=True)
class TurnResult:
    conversation: Conversation
    parser: str  # PARSER_MODEL or PARSER_RULE
    # why the rule parser answered (the model's failure), "" when the model did
    parser_note: str
    changes: TurnChanges
    ignored: tuple[str, ...]
    placement: str
    served: Served


def conversation_start(*, customer_id: str | None, k: int, message: str = "") -> TurnResult:
    """A new conversation, its first list, and — with a message — its first turn read."""
    conversation = conversation_new(customer_id=customer_id, k=k)
    return _turn(conversation=conversation, message=message)


def conversation_turn(*, conversation_id: str, message: str) -> TurnResult:
    """Read one more turn and make the list again. Raises ConversationNotFound (expired or never
    existed) and TooManyTurns."""
    conversation = conversation_load(conversation_id)
    if len(conversation.turns) >= settings.CONVERSATION_MAX_TURNS:
        raise TooManyTurns(f"this conversation has had its {settings.CONVERSATION_MAX_TURNS} turns; start a new one")
    return _turn(conversation=conversation, message=message)


def turn_read(*, message: str, state: ConversationState) -> tuple[TurnChanges, tuple[str, ...], str, str]:
    """(changes, ignored, parser, note): the model's validated reading, else the rule parser's."""
    vocabulary = vocabulary_current()
    try:
        return model_parse(text=message, vocabulary=vocabulary, state=state), (), PARSER_MODEL, ""
    except ModelParseFailed as failed:
        parsed = rule_parse(message, vocabulary)
        return parsed.changes, parsed.ignored, PARSER_RULE, str(failed)


def _turn(*, conversation: Conversation, message: str) -> TurnResult:
    changes, ignored, parser, note = TurnChanges(), (), PARSER_RULE, ""
    if message.strip():
        changes, ignored, parser, note = turn_read(message=message, state=conversation.state)
        median = None if conversation.median_price is None else Decimal(conversation.median_price)
        conversation.state, applied = state_apply(conversation.state, changes, median_price=median)
        ignored = (*ignored, *applied)
        conversation.turns.append({"text": message, "parser": parser})
    excluded, too_broad = _excluded_products(conversation.state.exclude_terms)
    ignored = (*ignored, *too_broad)
    placement = Placement.SEARCH if conversation.state.query else Placement.HOME_FEED
    served = placement_serve(request=_request(conversation, placement=placement, excluded=excluded))
    conversation.median_price = _median_price([item.product_id for item in served.recommendation.items])
    conversation_save(conversation)
    return TurnResult(
        conversation=conversation,
        parser=parser,
        parser_note=note,
        changes=changes,
        ignored=tuple(ignored),
        placement=placement,
        served=served,
    )


def _request(conversation: Conversation, *, placement: str, excluded: tuple[tuple[int, str], ...]) -> PlacementRequest:
    state = conversation.state
    # The storefront's own filter builder: the same checks as the API's query parameters.
    item_filter = item_filter_build(
        price_min=state.price_min,
        price_max=state.price_max,
        brands=state.brands,
        attr=[f"{key}:{value}" for key, value in state.attributes],
    )
    if placement == Placement.SEARCH:
        # Search takes no `exclude`; `seen` (product pks) keeps the excluded products out the same way.
        return PlacementRequest(
            placement=placement,
            customer_id=conversation.customer_id,
            k=conversation.k,
            query=state.query,
            item_filter=item_filter,
            seen=tuple(pk for pk, _ in excluded),
        )
    return PlacementRequest(
        placement=placement,
        customer_id=conversation.customer_id,
        k=conversation.k,
        exclude=tuple(external_id for _, external_id in excluded),
        item_filter=item_filter,
    )


def _excluded_products(terms: tuple[str, ...]) -> tuple[tuple[tuple[int, str], ...], tuple[str, ...]]:
    """The (pk, id) of the products each term names (title, brand or category), and the terms
    that name too many to exclude."""
    excluded: list[tuple[int, str]] = []
    too_broad: list[str] = []
    for term in terms:
        ids = list(
            Product.objects.filter(
                # a word of the title starting with the term ("mug" strikes MUGS, not SMUGGLER)
                Q(title__iregex=r"\m" + re.escape(term)) | Q(brand__iexact=term) | Q(category__path__icontains=term)
            ).values_list("pk", "external_id")[: MAX_EXCLUDED_PRODUCTS + 1]
        )
        if len(ids) > MAX_EXCLUDED_PRODUCTS:
            too_broad.append(f"“no {term}” matches more than {MAX_EXCLUDED_PRODUCTS} products; not excluded")
        else:
            excluded += ids
    return tuple(dict.fromkeys(excluded)), tuple(too_broad)


def _median_price(product_ids: list[str]) -> str | None:
    prices = [
        price
        for price in Product.objects.filter(external_id__in=product_ids).values_list("price", flat=True)
        if price is not None
    ]
    return str(statistics.median(prices)) if prices else None
