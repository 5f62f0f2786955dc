"""Input and output shapes of the catalog API.

They live here, not nested in the views, because drf-spectacular names schema components after
the serializer class and two nested `InputSerializer`s would collide.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalog.api.validators import json_storable
from catalog.models import EventType, Product

# Lengths follow the columns (catalog.models) so a row that passes here fits there.
ID_MAX_LENGTH = 128
CATEGORY_MAX_LENGTH = 1000
TEXT_MAX_LENGTH = 20_000
QUERY_MAX_LENGTH = 500
MAX_PAGE_SIZE = 500
# PostgreSQL's OFFSET is a bigint; far below that, a deep page is a crawler, not a shopper.
MAX_OFFSET = 1_000_000


class ProductIdSerializer(serializers.Serializer):
    """The `{id}` path parameter: a product's external id (any characters except `/`)."""

    id = serializers.CharField(max_length=ID_MAX_LENGTH)


class ProductRowSerializer(serializers.Serializer):
    """One product in the interchange format (`../shared/DESIGN.md`); unknown keys are ignored."""

    id = serializers.CharField(max_length=ID_MAX_LENGTH, help_text="Any characters but `/` (one URL path segment).")
    title = serializers.CharField(max_length=500)
    description = serializers.CharField(max_length=TEXT_MAX_LENGTH, required=False, allow_blank=True)
    category = serializers.CharField(
        max_length=CATEGORY_MAX_LENGTH,
        required=False,
        allow_blank=True,
        allow_null=True,
        help_text="Path such as `Home > Kitchen > Mugs`.",
    )
    brand = serializers.CharField(max_length=200, required=False, allow_blank=True)
    price = serializers.DecimalField(max_digits=12, decimal_places=2, required=False, allow_null=True)
    currency = serializers.CharField(max_length=3, required=False, allow_blank=True)
    in_stock = serializers.BooleanField(required=False, default=True)
    attributes = serializers.DictField(required=False, validators=[json_storable])
    image_url = serializers.URLField(max_length=1000, required=False, allow_blank=True)


class EventRowSerializer(serializers.Serializer):
    """One behaviour event in the interchange format; `event_id` makes re-sending harmless."""

    customer = serializers.CharField(
        max_length=ID_MAX_LENGTH,
        required=False,
        help_text="The customer's external id; may be left out when `session` is given.",
    )
    session = serializers.CharField(
        max_length=ID_MAX_LENGTH,
        required=False,
        help_text="An anonymous session id, e.g. `s-8f2c`: its events shape its feed. With `customer`, links "
        "the session to that customer (its events become theirs); a session linked to another customer "
        "is a conflict on `session`.",
    )
    product = serializers.CharField(max_length=ID_MAX_LENGTH)
    type = serializers.ChoiceField(choices=EventType.choices)
    timestamp = serializers.DateTimeField(help_text="ISO 8601.")
    value = serializers.FloatField(required=False, allow_null=True, help_text="Rating or amount.")
    event_id = serializers.CharField(max_length=200, required=False, allow_blank=True)
    recommendation_id = serializers.UUIDField(required=False, allow_null=True)

    def validate(self, attrs: dict) -> dict:
        if not attrs.get("customer") and not attrs.get("session"):
            raise serializers.ValidationError({"customer": ["Required unless the event has a `session`."]})
        return attrs


class RowErrorSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="0-based position of the row in the posted list.")
    field = serializers.CharField(allow_null=True, help_text="The field at fault; null when the row as a whole is.")
    message = serializers.CharField()


class ProductImportOutputSerializer(serializers.Serializer):
    received = serializers.IntegerField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    errors = RowErrorSerializer(many=True)
    warnings = RowErrorSerializer(many=True, help_text="Rows stored with a change: what was changed and why.")


class EventIngestOutputSerializer(serializers.Serializer):
    received = serializers.IntegerField()
    created = serializers.IntegerField()
    duplicates = serializers.IntegerField(help_text="Rows whose `event_id` was stored already, with the same content.")
    errors = RowErrorSerializer(many=True)
    conflicts = RowErrorSerializer(
        many=True, help_text="Rows whose `event_id` was stored with other content: not stored, nothing changed."
    )


class ProductFilterSerializer(serializers.Serializer):
    category = serializers.CharField(
        max_length=CATEGORY_MAX_LENGTH,
        required=False,
        help_text="Category path (`Home > Kitchen`, spaces optional); includes its sub-categories.",
    )
    in_stock = serializers.BooleanField(required=False, allow_null=True, default=None)
    q = serializers.CharField(
        max_length=QUERY_MAX_LENGTH, required=False, help_text="Text the title contains (any case)."
    )
    limit = serializers.IntegerField(min_value=1, max_value=MAX_PAGE_SIZE, required=False)
    offset = serializers.IntegerField(min_value=0, max_value=MAX_OFFSET, required=False)


@extend_schema_field({"type": "string", "anyOf": [{"format": "uri"}, {"maxLength": 0}]})
class ImageUrlField(serializers.CharField):
    """A product's image URL, or "" when it has none (a URLField's schema would refuse the "")."""


class ProductOutputSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="external_id")
    category = serializers.CharField(source="category.path", allow_null=True, default=None)
    image_url = ImageUrlField(read_only=True)

    class Meta:
        model = Product
        fields = [
            "id",
            "title",
            "description",
            "category",
            "brand",
            "price",
            "currency",
            "in_stock",
            "attributes",
            "image_url",
            "updated_at",
        ]
        read_only_fields = fields


class ProductPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = ProductOutputSerializer(many=True)
