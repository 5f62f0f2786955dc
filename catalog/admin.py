"""Catalog admin: merchandisers manage products and categories; events, embeddings and
neighbours are shown read-only for inspection."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from catalog.models import Category, Customer, Event, ItemNeighbor, Product, ProductEmbedding


class EmbeddedFilter(admin.SimpleListFilter):
    """Whether a product has an embedding (stale or not)."""

    title = "embedded"
    parameter_name = "embedded"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Product]) -> QuerySet[Product]:
        if self.value() == "yes":
            return queryset.filter(embedding__isnull=False)
        if self.value() == "no":
            return queryset.filter(embedding__isnull=True)
        return queryset


class ReadOnlyAdmin(admin.ModelAdmin):
    """Derived data: rebuilt by tasks, never edited by hand."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["path", "name", "parent"]
    list_select_related = ["parent"]
    search_fields = ["path"]
    autocomplete_fields = ["parent"]


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["external_id", "title", "category", "brand", "price", "currency", "in_stock", "updated_at"]
    list_select_related = ["category"]
    list_filter = ["in_stock", EmbeddedFilter, "category", "brand"]
    search_fields = ["external_id", "title", "brand"]
    autocomplete_fields = ["category"]
    readonly_fields = ["text_hash", "created_at", "updated_at"]


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["external_id", "created_at"]
    search_fields = ["external_id"]
    readonly_fields = ["created_at"]


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["timestamp", "type", "customer", "product", "value", "recommendation_id"]
    list_select_related = ["customer", "product"]
    list_filter = ["type"]
    date_hierarchy = "timestamp"
    raw_id_fields = ["customer", "product"]
    search_fields = ["event_id"]
    readonly_fields = ["created_at"]
    # The events table is the largest one: no COUNT(*) over it on every page.
    show_full_result_count = False


@admin.register(ProductEmbedding)
class ProductEmbeddingAdmin(ReadOnlyAdmin):
    list_display = ["product", "model_name", "text_hash", "updated_at"]
    list_select_related = ["product"]
    list_filter = ["model_name"]
    search_fields = ["product__external_id", "product__title"]
    raw_id_fields = ["product"]


@admin.register(ItemNeighbor)
class ItemNeighborAdmin(ReadOnlyAdmin):
    list_display = ["product", "rank", "neighbor", "score"]
    list_select_related = ["product", "neighbor"]
    search_fields = ["product__external_id"]
    raw_id_fields = ["product", "neighbor"]
    ordering = ["product", "rank"]
