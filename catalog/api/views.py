"""Catalog endpoints: thin views that validate input, call a selector or an import service and
shape the answer. Batch writes answer 201 when every row was stored (or was a duplicate) and 207
when some rows failed; the body always lists the failures by their position in the posted list."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, PolymorphicProxySerializer, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.api.batches import BatchResult, batch_import
from catalog.api.parsers import JSONBodyParser
from catalog.api.selectors import product_get, product_list
from catalog.api.serializers import (
    MAX_PAGE_SIZE,
    EventIngestOutputSerializer,
    EventRowSerializer,
    ProductFilterSerializer,
    ProductIdSerializer,
    ProductImportOutputSerializer,
    ProductOutputSerializer,
    ProductPageSerializer,
    ProductRowSerializer,
)
from catalog.dispatch import request_embedding
from catalog.importing.events import events_ingest
from catalog.importing.products import products_upsert
from recsite.api_errors import ErrorSerializer
from recsite.scopes import Scope

PRODUCT_ID_PARAMETER = OpenApiParameter(
    "product_id",
    str,
    OpenApiParameter.PATH,
    description="The product's external id. Ids containing `/` cannot be addressed here (a `%2F` is "
    "decoded before routing); use the list endpoint for them.",
    examples=[OpenApiExample("a product", value="85123A")],
)
ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer, 429: ErrorSerializer}
WRITE_ERRORS = {**ERRORS, 415: ErrorSerializer}


def _rows_schema(row_serializer: type, name: str) -> PolymorphicProxySerializer:
    return PolymorphicProxySerializer(
        component_name=name,
        serializers=[row_serializer, row_serializer(many=True)],
        resource_type_field_name=None,
        many=False,
    )


def _batch_status(result: BatchResult) -> int:
    return status.HTTP_207_MULTI_STATUS if result.errors or result.conflicts else status.HTTP_201_CREATED


class ProductPagination(LimitOffsetPagination):
    max_limit = MAX_PAGE_SIZE


class ProductsApi(APIView):
    required_scope = {"POST": Scope.WRITE_CATALOG, "*": Scope.READ_RECOMMENDATIONS}
    replica_reads = True  # GET and HEAD may read from a replica (recsite.db_router)
    parser_classes = [JSONBodyParser]

    @extend_schema(
        operation_id="products_list",
        parameters=[ProductFilterSerializer],
        responses={200: ProductPageSerializer, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        """Products, filtered by category subtree, stock and title text; `limit`/`offset` pages."""
        filters = ProductFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        products = product_list(
            category=filters.validated_data.get("category"),
            in_stock=filters.validated_data["in_stock"],
            q=filters.validated_data.get("q"),
        )
        paginator = ProductPagination()
        page = paginator.paginate_queryset(products, request, view=self)
        return paginator.get_paginated_response(ProductOutputSerializer(page, many=True).data)

    @extend_schema(
        operation_id="products_upsert",
        request=_rows_schema(ProductRowSerializer, "ProductRows"),
        responses={201: ProductImportOutputSerializer, 207: ProductImportOutputSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request) -> Response:
        """Create or update products (one object, or a list of at most 1000), matched by `id`.

        201: every row stored or unchanged. 207: some rows failed; `errors` says which (0-based
        `index`) and why, the others were stored. A single object that fails is a 400.
        """
        result = batch_import(
            data=request.data,
            noun="product",
            row_serializer=ProductRowSerializer,
            service=products_upsert,
        )
        if result.created or result.updated:
            # New text to embed now rather than at the next periodic run (which catches up when
            # the broker is down).
            request_embedding()
        output = ProductImportOutputSerializer(result)
        return Response(output.data, status=_batch_status(result))


class ProductDetailApi(APIView):
    required_scope = Scope.READ_RECOMMENDATIONS
    replica_reads = True  # GET and HEAD may read from a replica (recsite.db_router)

    @extend_schema(
        operation_id="products_retrieve",
        parameters=[PRODUCT_ID_PARAMETER],
        responses={200: ProductOutputSerializer, 404: ErrorSerializer, **ERRORS},
    )
    def get(self, request: Request, product_id: str) -> Response:
        """One product by its external id."""
        path = ProductIdSerializer(data={"id": product_id})
        path.is_valid(raise_exception=True)
        product = product_get(product_id=path.validated_data["id"])
        if product is None:
            raise NotFound(f"No product with id {product_id!r}.")
        return Response(ProductOutputSerializer(product).data)


class EventIngestApi(APIView):
    required_scope = Scope.WRITE_EVENTS
    parser_classes = [JSONBodyParser]

    @extend_schema(
        operation_id="events_ingest",
        request=_rows_schema(EventRowSerializer, "EventRows"),
        responses={
            201: EventIngestOutputSerializer,
            207: EventIngestOutputSerializer,
            409: ErrorSerializer,
            **WRITE_ERRORS,
        },
        examples=[
            OpenApiExample(
                "an anonymous session views and carts",
                value=[
                    {"session": "s-8f2c", "product": "85123A", "type": "view", "timestamp": "2024-03-01T09:30:00Z"},
                    {
                        "session": "s-8f2c",
                        "product": "85123A",
                        "type": "add_to_cart",
                        "timestamp": "2024-03-01T09:31:10Z",
                        "event_id": "s-8f2c-2",
                    },
                ],
                request_only=True,
            ),
            OpenApiExample(
                "the session shopper signs in and buys",
                value={
                    "customer": "12347",
                    "session": "s-8f2c",
                    "product": "85123A",
                    "type": "purchase",
                    "value": 2.55,
                    "timestamp": "2024-03-01T09:40:00Z",
                    "event_id": "o-1001-1",
                },
                request_only=True,
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        """Store behaviour events (one object, or a list of at most 1000).

        Unknown customers are created; an event for an unknown product is a row error. Re-sent
        `event_id`s with the same content count as `duplicates` and change nothing; with other
        content they are `conflicts` and are not stored. 201: no row failed; 207: some did,
        `errors` and `conflicts` say which (0-based `index`) and why. A single object that fails
        is a 400, one that conflicts a 409.
        """
        result = batch_import(data=request.data, noun="event", row_serializer=EventRowSerializer, service=events_ingest)
        output = EventIngestOutputSerializer(
            {
                "received": result.received,
                "created": result.created,
                "duplicates": result.updated + result.unchanged,
                "errors": result.errors,
                "conflicts": result.conflicts,
            }
        )
        return Response(output.data, status=_batch_status(result))
