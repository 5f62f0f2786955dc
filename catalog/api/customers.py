"""The customers endpoint of the catalog: a batch upsert of customers and their attributes (the
segment rules read them). Reading and erasing one live in recommendations.api.customers, because
an erasure reaches into every app."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, PolymorphicProxySerializer, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.api.batches import batch_import
from catalog.api.parsers import JSONBodyParser
from catalog.api.serializers import ID_MAX_LENGTH, RowErrorSerializer
from catalog.api.validators import json_storable
from catalog.customers import customers_upsert
from recsite.api_errors import ErrorSerializer
from recsite.scopes import Scope

WRITE_ERRORS = {
    400: ErrorSerializer,
    401: ErrorSerializer,
    403: ErrorSerializer,
    415: ErrorSerializer,
    429: ErrorSerializer,
}


class CustomerRowSerializer(serializers.Serializer):
    """One customer; unknown keys are ignored."""

    id = serializers.CharField(max_length=ID_MAX_LENGTH, help_text="The customer's external id (as in events).")
    attributes = serializers.DictField(
        required=False,
        validators=[json_storable],
        help_text="Free-form attributes (`tier`, `country`, …) that segment rules match; replace the stored ones.",
    )


class CustomerImportOutputSerializer(serializers.Serializer):
    received = serializers.IntegerField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    errors = RowErrorSerializer(many=True)


class CustomerOutputSerializer(serializers.Serializer):
    id = serializers.CharField(source="external_id")
    attributes = serializers.DictField()
    created_at = serializers.DateTimeField()


class CustomersApi(APIView):
    required_scope = Scope.WRITE_CUSTOMERS
    parser_classes = [JSONBodyParser]

    @extend_schema(
        operation_id="customers_upsert",
        request=PolymorphicProxySerializer(
            component_name="CustomerRows",
            serializers=[CustomerRowSerializer, CustomerRowSerializer(many=True)],
            resource_type_field_name=None,
            many=False,
        ),
        responses={201: CustomerImportOutputSerializer, 207: CustomerImportOutputSerializer, **WRITE_ERRORS},
        examples=[
            OpenApiExample(
                "Two customers",
                value=[{"id": "c1", "attributes": {"tier": "vip", "country": "FR"}}, {"id": "c2"}],
                request_only=True,
            ),
            OpenApiExample(
                "one created, one updated",
                value={"received": 2, "created": 1, "updated": 1, "unchanged": 0, "errors": []},
                response_only=True,
                status_codes=["201"],
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        """Create customers or replace their attributes (one object, or a list of at most 1000),
        matched by `id`. 201: every row stored or unchanged; 207: some rows failed, `errors` says
        which (0-based `index`) and why. A single object that fails is a 400."""
        result = batch_import(
            data=request.data, noun="customer", row_serializer=CustomerRowSerializer, service=customers_upsert
        )
        code = status.HTTP_207_MULTI_STATUS if result.errors else status.HTTP_201_CREATED
        return Response(CustomerImportOutputSerializer(result).data, status=code)
