"""POST /api/v1/conversations/ and /api/v1/conversations/{id}/turns/: a shopper refines a list in
turns (validate, call recommendations.conversation.service, shape its answer)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.public import JSONBodyParser
from recommendations.api.serializers import ID_MAX_LENGTH, MAX_K, BoundedCharField, RecommendedItemSerializer
from recommendations.conversation.service import (
    PARSER_MODEL,
    PARSER_RULE,
    TooManyTurns,
    TurnResult,
    conversation_start,
    conversation_turn,
)
from recommendations.conversation.store import ConversationNotFound
from recsite.api_errors import Conflict, ErrorSerializer
from recsite.scopes import Scope

ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer, 415: ErrorSerializer, 429: ErrorSerializer}


class TextField(BoundedCharField):
    """Text as sent, and only text: DRF's CharField turns a JSON number into a string."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


def _message_field(required: bool) -> serializers.CharField:
    return TextField(
        max_length=settings.CONVERSATION_MAX_TURN_LENGTH,
        required=required,
        allow_blank=not required,
        default="" if not required else serializers.empty,
        trim_whitespace=True,
        help_text=f"The shopper's words, e.g. `cheaper`, `in blue`, `no mugs`, `something for a child` "
        f"(at most {settings.CONVERSATION_MAX_TURN_LENGTH} characters).",
    )


class ConversationStartSerializer(serializers.Serializer):
    customer = TextField(
        max_length=ID_MAX_LENGTH, required=False, allow_null=True, default=None, help_text="The shopper, if known."
    )
    k = serializers.IntegerField(min_value=1, max_value=MAX_K, default=10, help_text="Items per list.")
    message = _message_field(required=False)


class TurnSerializer(serializers.Serializer):
    message = _message_field(required=True)


class ConversationStateSerializer(serializers.Serializer):
    query = serializers.CharField(help_text="The search built up over the turns (empty: the home feed).")
    price_min = serializers.CharField(allow_null=True)
    price_max = serializers.CharField(allow_null=True)
    brands = serializers.ListField(child=serializers.CharField())
    attributes = serializers.DictField(child=serializers.CharField())
    exclude = serializers.ListField(child=serializers.CharField(), help_text="Words whose products are left out.")


class ConversationOutputSerializer(serializers.Serializer):
    conversation_id = serializers.CharField(help_text="Send turns to /api/v1/conversations/{id}/turns/.")
    turn = serializers.IntegerField(help_text="How many turns the conversation has had.")
    parser = serializers.ChoiceField(
        choices=[PARSER_MODEL, PARSER_RULE],
        help_text="Who read the turn: `model` (the language model, its output validated against the catalog) "
        "or `rule` (the rule parser: no model configured, no answer in time, or output that did not validate).",
    )
    parser_note = serializers.CharField(help_text="Why the rule parser answered; empty when the model did.")
    changes = serializers.DictField(help_text="What this turn changed (query terms, price, brands, attributes, …).")
    ignored = serializers.ListField(
        child=serializers.CharField(), help_text="What the turn asked that the catalog cannot express, in words."
    )
    state = ConversationStateSerializer()
    placement = serializers.CharField(help_text="`search` once there is a query, `home_feed` before.")
    recommendation_id = serializers.UUIDField(help_text="Send it back with the events this list leads to.")
    strategy = serializers.CharField()
    experiment = serializers.CharField(allow_null=True)
    variant = serializers.CharField(allow_null=True)
    items = RecommendedItemSerializer(many=True)
    expires_in = serializers.IntegerField(help_text="Seconds this conversation is kept after this turn.")


def _body(result: TurnResult) -> dict:
    recommendation = result.served.recommendation
    return {
        "conversation_id": result.conversation.id,
        "turn": len(result.conversation.turns),
        "parser": result.parser,
        "parser_note": result.parser_note,
        "changes": result.changes.as_json(),
        "ignored": list(result.ignored),
        "state": result.conversation.state.as_json(),
        "placement": result.placement,
        "recommendation_id": recommendation.recommendation_id,
        "strategy": recommendation.strategy,
        **result.served.names,
        "items": recommendation.items,
        "expires_in": settings.CONVERSATION_TTL_S,
    }


EXAMPLE_ANSWER = {
    "conversation_id": "6f1c0c8e-3b5e-4f7a-9f0e-2a6d7c1b9e10",
    "turn": 2,
    "parser": "rule",
    "parser_note": "no language model is configured (REASON_BACKEND=grounded)",
    "changes": {"price_direction": "down"},
    "ignored": [],
    "state": {"query": "mug", "price_min": None, "price_max": "2.80", "brands": [], "attributes": {}, "exclude": []},
    "placement": "search",
    "recommendation_id": "0b8e3c2a-8d4f-4b8e-a1f3-5f0f7a9e2c11",
    "strategy": "search@v2",
    "experiment": None,
    "variant": None,
    "items": [{"id": "22633", "title": "HAND WARMER UNION JACK", "score": 0.91, "routes": {}, "rules": []}],
    "expires_in": 1800,
}


class ConversationsApi(APIView):
    required_scope = Scope.READ_RECOMMENDATIONS
    parser_classes = [JSONBodyParser]

    @extend_schema(
        operation_id="conversations_create",
        request=ConversationStartSerializer,
        responses={201: ConversationOutputSerializer, **ERRORS},
        examples=[
            OpenApiExample("start with a wish", value={"customer": "12347", "message": "a mug for a child"}),
            OpenApiExample("the answer", value=EXAMPLE_ANSWER, response_only=True, status_codes=["201"]),
        ],
    )
    def post(self, request: Request) -> Response:
        """Start a conversation: its id and first list (the shopper's feed, or what `message` asks)."""
        data = ConversationStartSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        params = data.validated_data
        result = conversation_start(customer_id=params["customer"], k=params["k"], message=params["message"])
        return Response(ConversationOutputSerializer(_body(result)).data, status=status.HTTP_201_CREATED)


class ConversationTurnsApi(APIView):
    required_scope = Scope.READ_RECOMMENDATIONS
    parser_classes = [JSONBodyParser]

    @extend_schema(
        operation_id="conversations_turn",
        parameters=[OpenApiParameter("conversation_id", str, OpenApiParameter.PATH, description="From the start.")],
        request=TurnSerializer,
        responses={200: ConversationOutputSerializer, 404: ErrorSerializer, 409: ErrorSerializer, **ERRORS},
        examples=[
            OpenApiExample("cheaper", value={"message": "cheaper"}),
            OpenApiExample("no mugs, in blue", value={"message": "no mugs, in blue"}),
            OpenApiExample("the answer", value=EXAMPLE_ANSWER, response_only=True, status_codes=["200"]),
        ],
    )
    def post(self, request: Request, conversation_id: str) -> Response:
        """One more turn: read it (model, else rules), apply it, make the list again. 404: the
        conversation expired or never existed; 409: it has had its maximum number of turns."""
        data = TurnSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            result = conversation_turn(conversation_id=conversation_id, message=data.validated_data["message"])
        except ConversationNotFound as exc:
            raise NotFound(
                f"No conversation {conversation_id!r}: it expired ({settings.CONVERSATION_TTL_S} s after its last "
                "turn) or never existed. Start a new one."
            ) from exc
        except TooManyTurns as exc:
            raise Conflict(str(exc)) from exc
        return Response(ConversationOutputSerializer(_body(result)).data)
