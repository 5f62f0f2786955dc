"""POST /api/v1/feedback/: a shopper flags an item of a served list (validate, call the service)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.public import JSONBodyParser
from recommendations.api.serializers import ID_MAX_LENGTH
from recommendations.badcases.feedback import FeedbackError, FeedbackReason, feedback_submit
from recsite.api_errors import ErrorSerializer
from recsite.scopes import Scope

TEXT_MAX_LENGTH = 2000


class FeedbackInputSerializer(serializers.Serializer):
    recommendation_id = serializers.UUIDField(help_text="The `recommendation_id` of the list the item was in.")
    item = serializers.CharField(max_length=ID_MAX_LENGTH, help_text="The flagged product's id.")
    reason = serializers.ChoiceField(choices=FeedbackReason.choices, help_text="`not_interested` also hides the item.")
    text = serializers.CharField(
        max_length=TEXT_MAX_LENGTH, required=False, allow_blank=True, default="", help_text="The shopper's words."
    )


class FeedbackOutputSerializer(serializers.Serializer):
    bad_case_id = serializers.IntegerField()
    created = serializers.BooleanField(help_text="False when the same feedback was sent before (nothing new stored).")
    hidden = serializers.BooleanField(help_text="Whether the item is now hidden for this customer.")


class FeedbackApi(APIView):
    required_scope = Scope.WRITE_EVENTS
    parser_classes = [JSONBodyParser]

    @extend_schema(
        operation_id="feedback_create",
        request=FeedbackInputSerializer,
        responses={
            201: FeedbackOutputSerializer,
            200: FeedbackOutputSerializer,
            400: ErrorSerializer,
            401: ErrorSerializer,
            403: ErrorSerializer,
            415: ErrorSerializer,
            429: ErrorSerializer,
        },
    )
    def post(self, request: Request) -> Response:
        """Flag an item of a served list: stores a bad case with a snapshot of the list.

        201: a new case. 200: the same list, item and reason were flagged already. 400 names the
        field at fault, also for an unknown `recommendation_id` or an `item` not in that list.
        """
        data = FeedbackInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        params = data.validated_data
        try:
            result = feedback_submit(
                recommendation_id=params["recommendation_id"],
                product_id=params["item"],
                reason=params["reason"],
                text=params["text"],
            )
        except FeedbackError as exc:
            raise serializers.ValidationError({exc.field: [exc.message]}) from exc
        output = FeedbackOutputSerializer(result)
        return Response(output.data, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)
