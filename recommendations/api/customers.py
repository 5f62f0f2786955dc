"""One customer: read their attributes, or erase them (recommendations.erasure). Here rather than
in the catalog because an erasure reaches the experiments' and this app's rows too."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.public import customer_get
from recommendations.erasure import customer_erase
from recsite.api_errors import ErrorSerializer
from recsite.scopes import Scope

ID_MAX_LENGTH = 128
ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer, 429: ErrorSerializer}
CUSTOMER_ID_PARAMETER = OpenApiParameter(
    "customer_id",
    str,
    OpenApiParameter.PATH,
    description="The customer's external id; ids containing `/` cannot be addressed here.",
    examples=[OpenApiExample("a customer", value="12347")],
)


class CustomerIdSerializer(serializers.Serializer):
    id = serializers.CharField(max_length=ID_MAX_LENGTH)


class CustomerDetailOutputSerializer(serializers.Serializer):
    id = serializers.CharField(source="external_id", help_text="The customer's external id.")
    attributes = serializers.DictField(help_text="What segment rules match.")
    created_at = serializers.DateTimeField()


def _customer_id(raw: str) -> str:
    path = CustomerIdSerializer(data={"id": raw})
    path.is_valid(raise_exception=True)
    return path.validated_data["id"]


class CustomerDetailApi(APIView):
    required_scope = {"DELETE": Scope.WRITE_CUSTOMERS, "*": Scope.READ_RECOMMENDATIONS}

    @extend_schema(
        operation_id="customers_retrieve",
        parameters=[CUSTOMER_ID_PARAMETER],
        responses={200: CustomerDetailOutputSerializer, 404: ErrorSerializer, **ERRORS},
        examples=[
            OpenApiExample(
                "a customer with attributes",
                value={
                    "id": "12347",
                    "attributes": {"tier": "vip", "country": "FR"},
                    "created_at": "2024-03-01T09:30:00Z",
                },
                response_only=True,
                status_codes=["200"],
            )
        ],
    )
    def get(self, request: Request, customer_id: str) -> Response:
        """One customer and their attributes."""
        customer = customer_get(customer_id=_customer_id(customer_id))
        if customer is None:
            raise NotFound(f"No customer with id {customer_id!r}.")
        return Response(CustomerDetailOutputSerializer(customer).data)

    @extend_schema(
        operation_id="customers_erase",
        parameters=[CUSTOMER_ID_PARAMETER],
        responses={204: OpenApiResponse(description="Erased, or nothing was left to erase."), **ERRORS},
    )
    def delete(self, request: Request, customer_id: str) -> Response:
        """Erase a customer: their row, events, the anonymous sessions linked to them and those
        sessions' events, exposures, served lists and which reason template wrote each, hidden
        items, and the personal fields of their bad cases; aggregates (popularity, neighbours,
        experiment snapshots, reason texts cached per item) stay. Logged with a keyed hash of the
        id, never the id. Idempotent: 204 each time, also for an id never stored (served lists of
        an unknown id are erased too), so a retried call cannot fail."""
        customer_erase(customer_id=_customer_id(customer_id))
        return Response(status=status.HTTP_204_NO_CONTENT)
