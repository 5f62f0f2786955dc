"""Query parameters and answers of the recommendation API.

Module-level with distinct names (not nested `InputSerializer`s) because drf-spectacular names
schema components after the class.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from catalog.public import FieldError, category_path_normalize
from recommendations.contracts import (
    HISTORY_CUSTOMER,
    HISTORY_NONE,
    HISTORY_SESSION,
    MATCH_HYBRID,
    MATCH_LEXICAL,
    MATCH_NONE,
    MATCH_SEMANTIC,
    REASON_GENERATED,
    REASON_GROUNDED,
    SOURCE_COPURCHASE,
    SOURCE_MIXED,
    SOURCE_NEIGHBORS,
)
from recommendations.filters import MAX_VALUES, FilterError, item_filter_build

MAX_K = 100
MAX_EXCLUDE = 500
MAX_BASKET = 50
ID_MAX_LENGTH = 128
CATEGORY_MAX_LENGTH = 1000
QUERY_MAX_LENGTH = 500
BRAND_MAX_LENGTH = 200
PAIR_MAX_LENGTH = 1000
MAX_PRICE = 10**10
CURSOR_MAX_LENGTH = 3000


class BoundedCharField(serializers.CharField):
    """A CharField whose length limit holds for the text as sent: DRF trims whitespace before it
    checks the length, so a 501-character query with a leading tab passed a 500 limit the schema
    states for the raw parameter."""

    def to_internal_value(self, data: Any) -> str:
        if isinstance(data, str) and self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return super().to_internal_value(data)


class CommaSeparatedListField(serializers.ListField):
    """A list sent as `x=a,b`, as repeated parameters `x=a&x=b`, or both; blanks are dropped."""

    def to_internal_value(self, data: Any) -> list[Any]:
        values = [data] if isinstance(data, str) else data
        if not isinstance(values, list):
            self.fail("not_a_list", input_type=type(data).__name__)
        items = [part.strip() for value in values for part in str(value).split(",") if part.strip()]
        # Checked before the items are, so a huge list costs little to refuse.
        if self.max_length is not None and len(items) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return super().to_internal_value(items)


class CategoryPathField(BoundedCharField):
    """A category path in the catalog's form: `Home>Kitchen` becomes `Home > Kitchen`."""

    def run_validation(self, data: Any = serializers.empty) -> str | None:
        # After the length and character checks; a path of separators only means no filter.
        value = super().run_validation(data)
        try:
            return category_path_normalize(value) or None
        except FieldError as exc:
            raise serializers.ValidationError(exc.message) from exc


def _k_field() -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=MAX_K, default=10, help_text="How many items.")


def _pairs_field(help_text: str) -> serializers.ListField:
    return serializers.ListField(
        child=BoundedCharField(max_length=PAIR_MAX_LENGTH),
        max_length=MAX_VALUES,
        required=False,
        default=list,
        help_text=help_text,
    )


def _price_field(help_text: str) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=0, max_value=MAX_PRICE - 1, required=False, help_text=help_text
    )


class StorefrontQuerySerializer(serializers.Serializer):
    """What every placement takes: the request's filters and boosters, and pagination. The
    validated data carries them as `item_filter` (recommendations.contracts.ItemFilter)."""

    price_min = _price_field("Only items at this price or above (items without a price are left out), e.g. `10`.")
    price_max = _price_field("Only items at this price or below, e.g. `49.90`.")
    brand = serializers.ListField(
        child=BoundedCharField(max_length=BRAND_MAX_LENGTH),
        max_length=MAX_VALUES,
        required=False,
        default=list,
        help_text="Only items of this brand (any case); repeat for several: `brand=Acme&brand=Globex`.",
    )
    attr = _pairs_field(
        "Only items whose attribute has this value, or one of these: `color:red`, `color:red|blue`; "
        "repeat for several attributes (all must match). An attribute no product has is a 400."
    )
    boost = _pairs_field("Raise the score of matching items ×1.5: `color:red` (repeatable, `|` for several values).")
    bury = _pairs_field("Lower the score of matching items ×0.5: `color:blue` (repeatable, `|` for several values).")
    page_size = serializers.IntegerField(
        min_value=1, max_value=MAX_K, required=False, help_text="Items per page (overrides `k`), e.g. `20`."
    )
    cursor = BoundedCharField(
        max_length=CURSOR_MAX_LENGTH,
        required=False,
        help_text="`next_cursor` of the previous page: the next items of the same list, none repeated. Send "
        "the same parameters with it; a cursor of another request, or altered, is a 400.",
    )
    exclude_served = serializers.BooleanField(
        default=False,
        help_text="Leave out what this `session` was served in the last 24 hours on any placement (its latest "
        "500 items), e.g. so a refreshed feed shows new items; needs `session`.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["exclude_served"] and not attrs.get("session"):
            raise serializers.ValidationError(
                {"exclude_served": ["Needs `session`: what was served is kept per session."]}
            )
        try:
            attrs["item_filter"] = item_filter_build(
                price_min=attrs.get("price_min"),
                price_max=attrs.get("price_max"),
                brands=attrs["brand"],
                attr=attrs["attr"],
                boost=attrs["boost"],
                bury=attrs["bury"],
            )
        except FilterError as exc:
            raise serializers.ValidationError({exc.field: [exc.message]}) from exc
        attrs["k"] = attrs.get("page_size") or attrs["k"]
        return attrs


class RecommendationQuerySerializer(StorefrontQuerySerializer):
    customer = BoundedCharField(
        max_length=ID_MAX_LENGTH,
        required=False,
        help_text="The customer's external id (this or `session` is required); an unknown one without a "
        "session gets a cold-start (popularity) list.",
    )
    session = BoundedCharField(
        max_length=ID_MAX_LENGTH,
        required=False,
        help_text="The anonymous session id, e.g. `s-8f2c`: when the customer has no history (or is not given), "
        "the session's recent views, clicks and carts shape the feed. With `customer`, links the session to "
        "the customer (its events become theirs); a session linked to another customer is a 409.",
    )
    k = _k_field()
    exclude = CommaSeparatedListField(
        child=BoundedCharField(max_length=ID_MAX_LENGTH),
        max_length=MAX_EXCLUDE,
        default=list,
        help_text=f"Product ids to leave out: comma-separated and/or repeated, at most {MAX_EXCLUDE}.",
    )
    category = CategoryPathField(
        max_length=CATEGORY_MAX_LENGTH,
        required=False,
        help_text="Only items in this category path (`Home > Kitchen`, spaces optional) or below it.",
    )
    include_purchased = serializers.BooleanField(
        default=False,
        help_text="Also recommend items the customer bought already (repeat-purchase catalogs).",
    )
    context = BoundedCharField(
        max_length=ID_MAX_LENGTH,
        required=False,
        help_text="The product the shopper is looking at: items like it lead the list (for a customer with "
        "history, blended with their own candidates); an unknown id is ignored.",
    )
    q = BoundedCharField(
        max_length=QUERY_MAX_LENGTH,
        required=False,
        help_text="What the shopper searched for: items matching it lead the list (for a customer with "
        "history, blended with their own candidates; `context` wins when both are given).",
    )
    reasons = serializers.BooleanField(
        default=True, help_text="Write a reason per item (`Because you bought …`); false leaves `reason` null."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("customer") and not attrs.get("session"):
            raise serializers.ValidationError({"customer": ["Required unless `session` is given."]})
        return super().validate(attrs)


def _customer_field() -> serializers.CharField:
    return BoundedCharField(
        max_length=ID_MAX_LENGTH,
        required=False,
        help_text="The shopper's external id, when known: puts them in this placement's running experiment.",
    )


def _session_field(help_text: str) -> serializers.CharField:
    return BoundedCharField(
        max_length=ID_MAX_LENGTH,
        required=False,
        help_text=f"The anonymous session id, e.g. `s-8f2c`: {help_text} (the customer's history wins when they "
        "have one). With `customer`, links the session to the customer; a session linked to another customer "
        "is a 409.",
    )


class SimilarQuerySerializer(StorefrontQuerySerializer):
    k = _k_field()
    customer = _customer_field()
    session = _session_field("what the session has in its cart is left out")
    category = CategoryPathField(
        max_length=CATEGORY_MAX_LENGTH,
        required=False,
        help_text="Only items in this category path (`Home > Kitchen`, spaces optional) or below it.",
    )


class SimilarPathSerializer(serializers.Serializer):
    product_id = BoundedCharField(max_length=ID_MAX_LENGTH)


class BoughtTogetherQuerySerializer(StorefrontQuerySerializer):
    products = CommaSeparatedListField(
        child=BoundedCharField(max_length=ID_MAX_LENGTH),
        max_length=MAX_BASKET,
        min_length=1,
        help_text=f"The basket: product ids, comma-separated and/or repeated, 1 to {MAX_BASKET}.",
    )
    k = _k_field()
    category = CategoryPathField(
        max_length=CATEGORY_MAX_LENGTH,
        required=False,
        help_text="Only items in this category path (`Home > Kitchen`, spaces optional) or below it.",
    )
    customer = _customer_field()
    session = _session_field(
        "what the session has in its cart (added and not bought since) joins the basket, and is left out"
    )


class SearchQuerySerializer(StorefrontQuerySerializer):
    q = BoundedCharField(
        max_length=QUERY_MAX_LENGTH,
        help_text="What the shopper typed (1 to 500 characters): words, a brand or a SKU, e.g. `85123A`.",
    )
    k = _k_field()
    category = CategoryPathField(
        max_length=CATEGORY_MAX_LENGTH,
        required=False,
        help_text="Only items in this category path (`Home > Kitchen`, spaces optional) or below it.",
    )
    customer = _customer_field()
    session = _session_field("its recent views, clicks and carts personalise the order of the matches")
    personalize = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Re-rank the matches towards the shopper's history (the customer's, else the session's): on "
        "by default when they have one; `false` keeps the search's own order. Exact SKU and brand matches "
        "stay on top either way.",
    )


class RuleTouchSerializer(serializers.Serializer):
    rule = serializers.IntegerField(source="rule_id", help_text="The merchandising rule's id.")
    kind = serializers.CharField(help_text="pin, boost, bury, category_cap or mmr.")
    effect = serializers.CharField(help_text="What it did to this item, e.g. `score ×1.5`, `pinned at 1`.")


class RecommendedItemSerializer(serializers.Serializer):
    id = serializers.CharField(source="product_id", help_text="The product's external id.")
    title = serializers.CharField()
    score = serializers.FloatField()
    routes = serializers.DictField(
        child=serializers.FloatField(),
        help_text="Recall route (`itemcf`, `semantic`, `popularity`) -> its normalised score for this item.",
    )
    rules = RuleTouchSerializer(many=True, help_text="The merchandising rules that touched this item.")
    reason = serializers.CharField(
        allow_null=True,
        required=False,
        help_text="Why it is recommended, for the shopper (home feed; null when reasons are off).",
    )
    reason_source = serializers.ChoiceField(
        choices=[REASON_GENERATED, REASON_GROUNDED],
        allow_null=True,
        required=False,
        help_text="Where `reason` came from: `generated` (a language model's sentence that passed the "
        "guardrails) or `grounded` (the template's fact-based sentence: the configured backend has no "
        "model, or this is the documented fallback while the model's sentence is not ready, the model "
        "endpoint timed out or failed, or the guardrails rejected it); null when `reason` is null.",
    )


class _RecommendationOutputSerializer(serializers.Serializer):
    recommendation_id = serializers.UUIDField(
        help_text="Send it back with the events this list leads to (attribution, experiments)."
    )
    strategy = serializers.CharField()
    experiment = serializers.CharField(allow_null=True, help_text="The experiment serving this list; null when none.")
    variant = serializers.CharField(
        allow_null=True,
        help_text="Its variant (arm); null when none, and in an interleaving experiment (the list merges both "
        "variants' lists; clicks sent back with `recommendation_id` are credited to the variant of the item).",
    )
    next_cursor = serializers.CharField(
        allow_null=True, help_text="Send it as `cursor` (with the same parameters) for the next page; null at the end."
    )


class RecommendationOutputSerializer(_RecommendationOutputSerializer):
    customer = serializers.CharField(allow_null=True)
    session = serializers.CharField(allow_null=True, help_text="The session asked about; null when none.")
    history = serializers.ChoiceField(
        choices=[HISTORY_CUSTOMER, HISTORY_SESSION, HISTORY_NONE],
        help_text="The history the feed was made from: the customer's, the session's recent events, or none "
        "(popular items, led by `context`/`q` when given).",
    )
    ranker = serializers.CharField(
        allow_null=True,
        required=False,
        help_text="The ranker model that ordered the list (`name@vN`), `fused` when it fell back; null: none asked.",
    )
    items = RecommendedItemSerializer(many=True)


def _session_output_field() -> serializers.CharField:
    return serializers.CharField(allow_null=True, help_text="The session asked about; null when none.")


class SimilarOutputSerializer(_RecommendationOutputSerializer):
    product = serializers.CharField()
    session = _session_output_field()
    items = RecommendedItemSerializer(many=True)


class BoughtTogetherOutputSerializer(_RecommendationOutputSerializer):
    products = serializers.ListField(child=serializers.CharField(), help_text="The basket asked about.")
    session = _session_output_field()
    cart_added = serializers.ListField(
        child=serializers.CharField(),
        help_text="Products of the shopper's cart (the customer's, else the session's) added to the basket.",
    )
    source = serializers.ChoiceField(
        choices=[SOURCE_COPURCHASE, SOURCE_NEIGHBORS, SOURCE_MIXED],
        help_text="Where the items came from: `copurchase` (bought in the same basket as each cart item: one "
        "shopper's purchases of one day), `neighbors` (no cart item has co-purchases yet: the co-occurrence "
        "routes, item-CF and collaborative), `mixed` (co-purchases, and the co-occurrence routes for the cart "
        "items without any).",
    )
    items = RecommendedItemSerializer(many=True)


class SearchFacetsSerializer(serializers.Serializer):
    category = serializers.DictField(child=serializers.IntegerField(), help_text="Category path -> matches.")
    brand = serializers.DictField(child=serializers.IntegerField(), help_text="Brand -> matches.")
    price = serializers.DictField(
        child=serializers.IntegerField(), help_text="Price band (`10-25`, `250+`, `none`) -> matches."
    )


class SearchOutputSerializer(_RecommendationOutputSerializer):
    query = serializers.CharField()
    session = _session_output_field()
    corrected = serializers.CharField(
        allow_null=True,
        help_text="The query as searched after typo correction (`chrismas lights` -> `christmas lights`): a word "
        "the catalog does not use, replaced by the closest one it does; null when no word was corrected.",
    )
    personalized = serializers.BooleanField(
        help_text="Whether the matches were re-ranked towards the shopper's history (see `personalize`)."
    )
    matched = serializers.ChoiceField(
        choices=[MATCH_HYBRID, MATCH_LEXICAL, MATCH_SEMANTIC, MATCH_NONE],
        help_text="What the items matched: `lexical` (SKU, brand or title words), `semantic` (meaning, above a "
        "minimum similarity), `hybrid` (both, fused), `none` (nothing: e.g. a gibberish query).",
    )
    facets = SearchFacetsSerializer(
        allow_null=True,
        help_text="Counts per category, brand and price band over the query's matches (before this request's "
        "own filters); null for an empty query.",
    )
    fallback = serializers.CharField(
        allow_null=True,
        help_text="Set when the answer is degraded (keyword matching while the embedding model is "
        "unavailable); null normally.",
    )
    items = RecommendedItemSerializer(many=True)
