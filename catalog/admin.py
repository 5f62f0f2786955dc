"""Catalog admin: merchandisers manage products and categories; events, embeddings and
neighbours are shown read-only for inspection."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path

from catalog import backoffice
from catalog.models import Category, Customer, Event, EventId, ItemNeighbor, Product, ProductEmbedding


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


class UploadForm(forms.Form):
    file = forms.FileField(help_text="JSON Lines (.jsonl) or CSV (.csv), the columns of the import format.")
    format = forms.ChoiceField(
        choices=[("", "from the file name"), ("jsonl", "JSON Lines"), ("csv", "CSV")], required=False
    )


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["external_id", "title", "category", "brand", "price", "currency", "in_stock", "updated_at"]
    list_select_related = ["category"]
    list_filter = ["in_stock", EmbeddedFilter, "category", "brand"]
    search_fields = ["external_id", "title", "brand"]
    autocomplete_fields = ["category"]
    readonly_fields = ["text_hash", "created_at", "updated_at"]
    change_list_template = "admin/catalog/product/change_list.html"
    actions = ["mark_out_of_stock", "mark_in_stock", "reembed"]

    @admin.action(description="Mark the selected products out of stock", permissions=["change"])
    def mark_out_of_stock(self, request: HttpRequest, queryset: QuerySet[Product]) -> None:
        changed = backoffice.products_set_stock(pks=list(queryset.values_list("pk", flat=True)), in_stock=False)
        self.message_user(request, f"{changed} products marked out of stock.")

    @admin.action(description="Mark the selected products in stock", permissions=["change"])
    def mark_in_stock(self, request: HttpRequest, queryset: QuerySet[Product]) -> None:
        changed = backoffice.products_set_stock(pks=list(queryset.values_list("pk", flat=True)), in_stock=True)
        self.message_user(request, f"{changed} products marked in stock.")

    @admin.action(description="Re-embed the selected products", permissions=["change"])
    def reembed(self, request: HttpRequest, queryset: QuerySet[Product]) -> None:
        dropped, requested = backoffice.products_reembed(pks=list(queryset.values_list("pk", flat=True)))
        how = "the worker was asked" if requested else "no broker answered: the periodic embed task will do it"
        self.message_user(request, f"{dropped} embeddings dropped for re-embedding; {how}.")

    def get_urls(self) -> list:
        upload = path("upload/", self.admin_site.admin_view(self.upload_view), name="catalog_product_upload")
        return [upload, *super().get_urls()]

    def upload_view(self, request: HttpRequest) -> HttpResponse:
        """Upload a product file; the answer is the same per-row report as `import_catalog`'s."""
        if not (self.has_add_permission(request) and self.has_change_permission(request)):
            raise PermissionDenied
        form = UploadForm(request.POST or None, request.FILES or None)
        report = None
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                report = backoffice.catalog_upload(file=upload, fmt=form.cleaned_data["format"] or None)
            except backoffice.UploadError as exc:
                form.add_error("file", f"cannot read {upload.name}: {exc}")
            else:
                level = messages.WARNING if report.errors else messages.SUCCESS
                self.message_user(request, f"{upload.name}: {len(report.errors)} rows rejected.", level=level)
        context = {
            **self.admin_site.each_context(request),
            "title": "Upload products",
            "opts": self.model._meta,
            "form": form,
            "report": report,
        }
        return TemplateResponse(request, "admin/catalog/product/upload.html", context)


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["external_id", "created_at"]
    search_fields = ["external_id"]
    readonly_fields = ["created_at"]


class EventAdminForm(forms.ModelForm):
    class Meta:
        model = Event
        fields = ["event_id", "customer", "session_id", "product", "type", "value", "timestamp", "recommendation_id"]

    def clean_event_id(self) -> str:
        # The ledger keeps ids unique (the partitioned table cannot): say so here, not with a 500.
        event_id = self.cleaned_data["event_id"]
        taken = EventId.objects.filter(event_id=event_id)
        if self.instance.pk is not None:
            taken = taken.exclude(event_pk=self.instance.pk)
        if taken.exists():
            raise forms.ValidationError("An event with this event id exists already.")
        return event_id


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    form = EventAdminForm
    list_display = ["timestamp", "type", "customer", "product", "value", "recommendation_id"]
    list_select_related = ["customer", "product"]
    list_filter = ["type"]
    date_hierarchy = "timestamp"
    raw_id_fields = ["customer", "product"]
    search_fields = ["event_id"]
    readonly_fields = ["received_at"]
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
