"""Recommendation endpoints: validate the query, call the serving service, shape its answer."""

from __future__ import annotations

import dataclasses

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.public import SessionClaimed
from placements.public import Placement
from recommendations.api.examples import (
    BOUGHT_TOGETHER_ANSWER,
    FEED_WITH_CONTEXT,
    SEARCH_ANSWER,
    SEARCH_QUERY_EXAMPLES,
    SIMILAR_ANSWER,
    answer_example,
    parameter_examples,
)
from recommendations.api.serializers import (
    BoughtTogetherOutputSerializer,
    BoughtTogetherQuerySerializer,
    RecommendationOutputSerializer,
    RecommendationQuerySerializer,
    SearchOutputSerializer,
    SearchQuerySerializer,
    SimilarOutputSerializer,
    SimilarPathSerializer,
    SimilarQuerySerializer,
)
from recommendations.contracts import PlacementRequest
from recommendations.errors import UnknownProduct
from recommendations.pagination import CursorInvalid, Page, page_serve
from recsite.api_errors import Conflict, ErrorSerializer
from recsite.scopes import Scope

ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer, 429: ErrorSerializer}


def _page(*, request: PlacementRequest, params: dict) -> Page:
    """This page of the list, the request's filters and `exclude_served` applied; a bad cursor is a
    400 naming it, a session another customer holds a 409."""
    try:
        return page_serve(
            request=dataclasses.replace(
                request, item_filter=params["item_filter"], exclude_served=params["exclude_served"]
            ),
            cursor=params.get("cursor"),
        )
    except CursorInvalid as exc:
        raise ValidationError({"cursor": [str(exc)]}) from exc
    except SessionClaimed as exc:
        raise Conflict({"session": [str(exc)]}) from exc


def page_body(page: Page, **fields: object) -> dict:
    """What every placement's answer holds: the list's id, strategy, items, the next page's
    cursor, the experiment and variant; `fields` adds the placement's own."""
    recommendation = page.served.recommendation
    return {
        "recommendation_id": recommendation.recommendation_id,
        "strategy": recommendation.strategy,
        **fields,
        "items": recommendation.items,
        "next_cursor": page.next_cursor,
        **page.served.names,
    }


class RecommendationsApi(APIView):
    required_scope = Scope.READ_RECOMMENDATIONS
    replica_reads = True  # GET and HEAD may read from a replica (recsite.db_router)

    @extend_schema(
        operation_id="recommendations_list",
        parameters=[RecommendationQuerySerializer],
        responses={200: RecommendationOutputSerializer, 409: ErrorSerializer, **ERRORS},
        examples=[
            *parameter_examples(RecommendationQuerySerializer),
            answer_example("a known customer, led by context", FEED_WITH_CONTEXT),
        ],
    )
    def get(self, request: Request) -> Response:
        """A customer's (or an anonymous session's) home feed: recall routes (item-CF, semantic,
        popularity), fused, then filtered (stock, `exclude`, purchases, `category`). Without history
        (customer's or session's), popular items. 409: the session is another customer's."""
        query = RecommendationQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        page = self._page(params)
        recommendation = page.served.recommendation
        output = RecommendationOutputSerializer(
            page_body(
                page,
                customer=params.get("customer"),
                session=params.get("session"),
                history=recommendation.history,
                ranker=recommendation.ranker,
            )
        )
        return Response(output.data)

    @staticmethod
    def _page(params: dict) -> Page:
        return _page(
            params=params,
            request=PlacementRequest(
                placement=Placement.HOME_FEED,
                customer_id=params.get("customer"),
                session_id=params.get("session"),
                k=params["k"],
                exclude=tuple(params["exclude"]),
                category=params.get("category"),
                include_purchased=params["include_purchased"],
                context_product=params.get("context"),
                query=params.get("q"),
                reasons=params["reasons"],
            ),
        )


class SimilarItemsApi(APIView):
    required_scope = Scope.READ_RECOMMENDATIONS
    replica_reads = True  # GET and HEAD may read from a replica (recsite.db_router)

    @extend_schema(
        operation_id="products_similar",
        parameters=[
            OpenApiParameter(
                "product_id",
                str,
                OpenApiParameter.PATH,
                description="The product's external id; ids containing `/` cannot be addressed here.",
                examples=[OpenApiExample("a product", value="85123A")],
            ),
            SimilarQuerySerializer,
        ],
        responses={200: SimilarOutputSerializer, 404: ErrorSerializer, 409: ErrorSerializer, **ERRORS},
        examples=[*parameter_examples(SimilarQuerySerializer), answer_example("items like it", SIMILAR_ANSWER)],
    )
    def get(self, request: Request, product_id: str) -> Response:
        """Items like this one (item-CF neighbours and embedding neighbours), without what the shopper
        has in the cart. 409: the session is another customer's."""
        path = SimilarPathSerializer(data={"product_id": product_id})
        path.is_valid(raise_exception=True)
        query = SimilarQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        try:
            page = _page(
                params=params,
                request=PlacementRequest(
                    placement=Placement.SIMILAR_ITEMS,
                    customer_id=params.get("customer"),
                    session_id=params.get("session"),
                    k=params["k"],
                    category=params.get("category"),
                    product_id=path.validated_data["product_id"],
                ),
            )
        except UnknownProduct as exc:
            raise NotFound(f"No product with id {product_id!r}.") from exc
        output = SimilarOutputSerializer(page_body(page, product=product_id, session=params.get("session")))
        return Response(output.data)


class BoughtTogetherApi(APIView):
    required_scope = Scope.READ_RECOMMENDATIONS
    replica_reads = True  # GET and HEAD may read from a replica (recsite.db_router)

    @extend_schema(
        operation_id="bought_together",
        parameters=[BoughtTogetherQuerySerializer],
        responses={200: BoughtTogetherOutputSerializer, 404: ErrorSerializer, 409: ErrorSerializer, **ERRORS},
        examples=[
            *parameter_examples(BoughtTogetherQuerySerializer),
            answer_example("a cart plus the session cart", BOUGHT_TOGETHER_ANSWER),
        ],
    )
    def get(self, request: Request) -> Response:
        """Items bought with a basket (a cart's products) and the shopper's cart: each item's
        co-purchases (bought in the same basket: one shopper's purchases of one day), the item-CF and
        collaborative neighbours for an item without any (`source` says which served); the basket's
        own items left out. Unknown ids are ignored; 404 when none exists; 409: the session is
        another customer's."""
        query = BoughtTogetherQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        try:
            page = _page(
                params=params,
                request=PlacementRequest(
                    placement=Placement.BOUGHT_TOGETHER,
                    customer_id=params.get("customer"),
                    session_id=params.get("session"),
                    k=params["k"],
                    category=params.get("category"),
                    basket=tuple(params["products"]),
                ),
            )
        except UnknownProduct as exc:
            raise NotFound("None of the products in `products` exists.") from exc
        recommendation = page.served.recommendation
        output = BoughtTogetherOutputSerializer(
            page_body(
                page,
                products=params["products"],
                session=params.get("session"),
                cart_added=list(recommendation.cart_added),
                source=recommendation.source,
            )
        )
        return Response(output.data)


class SearchApi(APIView):
    required_scope = Scope.READ_RECOMMENDATIONS
    replica_reads = True  # GET and HEAD may read from a replica (recsite.db_router)

    @extend_schema(
        operation_id="search",
        parameters=[SearchQuerySerializer],
        responses={200: SearchOutputSerializer, 409: ErrorSerializer, **ERRORS},
        examples=[
            *parameter_examples(SearchQuerySerializer, q=SEARCH_QUERY_EXAMPLES),
            answer_example("a typo corrected, hybrid matches", SEARCH_ANSWER),
        ],
    )
    def get(self, request: Request) -> Response:
        """Search by the placement's algorithm: `hybrid` (SKU, brand and title matching fused with the
        semantic matches above a minimum similarity), `semantic` or `keyword`; `matched` says what
        the items matched, `facets` counts the matches per category, brand and price band. Typos are
        corrected first (`corrected`); a shopper's history re-ranks the matches (`personalized`).
        409: the session is another customer's."""
        query = SearchQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        page = _page(
            params=params,
            request=PlacementRequest(
                placement=Placement.SEARCH,
                customer_id=params.get("customer"),
                session_id=params.get("session"),
                k=params["k"],
                query=params["q"],
                category=params.get("category"),
                personalize=params.get("personalize"),
            ),
        )
        recommendation = page.served.recommendation
        output = SearchOutputSerializer(
            page_body(
                page,
                query=params["q"],
                session=params.get("session"),
                corrected=recommendation.corrected,
                personalized=recommendation.personalized,
                fallback=recommendation.fallback,
                matched=recommendation.matched,
                facets=recommendation.facets,
            )
        )
        return Response(output.data)
