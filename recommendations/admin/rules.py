"""Merchandising rules in the admin: edit (checked per kind), dry run, and the recommendation
preview; served lists and hidden items shown for inspection."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core import serializers
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse, QueryDict
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.http import urlencode

from placements.public import Placement
from recommendations.admin.inputs import id_param, k_param, nul_message, nul_params
from recommendations.admin.jobs import job_context, job_submit
from recommendations.adminjobs.models import JobKind
from recommendations.adminjobs.service import JobLimitReached
from recommendations.models import HiddenItem, MerchRule, ServedList
from recommendations.preview import placement as preview
from recommendations.rules.active import rules_forget
from recommendations.rules.editing import rule_errors

PREVIEW_MAX_K = 50


class MerchRuleForm(forms.ModelForm):
    placement = forms.ChoiceField(choices=[("", "every placement"), *Placement.choices], required=False)

    class Meta:
        model = MerchRule
        fields = [
            "name",
            "kind",
            "is_active",
            "placement",
            "context_category",
            "segment_key",
            "segment_value",
            "starts_at",
            "ends_at",
            "product",
            "position",
            "item_ids",
            "target_category",
            "target_brand",
            "target_attribute",
            "target_attribute_value",
            "multiplier",
            "max_per_category",
            "top_k",
            "mmr_lambda",
        ]

    def _post_clean(self) -> None:
        super()._post_clean()
        for field, message in rule_errors(self.instance).items():
            if field in self.fields and field not in self.errors:
                self.add_error(field, message)


@admin.register(MerchRule)
class MerchRuleAdmin(admin.ModelAdmin):
    form = MerchRuleForm
    change_form_template = "admin/recommendations/merchrule/change_form.html"
    change_list_template = "admin/recommendations/merchrule/change_list.html"
    list_display = ["name", "kind", "is_active", "placement", "target", "starts_at", "ends_at", "updated_at"]
    list_filter = ["is_active", "kind", "placement"]
    list_editable = ["is_active"]
    search_fields = ["name", "item_ids", "target_brand", "product__external_id"]
    autocomplete_fields = ["product", "target_category", "context_category"]
    list_select_related = ["product", "target_category"]
    fieldsets = [
        (None, {"fields": ["name", "kind", "is_active"]}),
        (
            "Scope: which requests",
            {
                "fields": ["placement", "context_category", ("segment_key", "segment_value"), ("starts_at", "ends_at")],
                "description": "Leave a field empty to apply everywhere: every placement, category, customer "
                "and time. A segment matches a customer attribute (e.g. tier = gold).",
            },
        ),
        # `for-<kind>` classes: the form's script shows only the fieldsets of the chosen kind.
        (
            "Pin: the item and its position",
            {
                "fields": ["product", "position"],
                "classes": ["for-pin"],
                "description": "The item shows at this position (1 = first) in every list in scope, unless "
                "it is out of stock, hidden for the customer or excluded by the request.",
            },
        ),
        (
            "Targets: which items (any of these matches)",
            {
                "fields": [
                    "item_ids",
                    "target_category",
                    "target_brand",
                    ("target_attribute", "target_attribute_value"),
                ],
                "classes": ["for-boost", "for-bury", "for-exclude"],
                "description": "Every target you name must match (items listed by id, a category and its "
                "subcategories, a brand, an attribute value). Exclude drops the matching items.",
            },
        ),
        (
            "Boost or bury: by how much",
            {
                "fields": ["multiplier"],
                "classes": ["for-boost", "for-bury"],
                "description": "The matching items' scores are multiplied: above 1 raises them (boost), between "
                "0 and 1 lowers them (bury); the list is then re-sorted.",
            },
        ),
        (
            "Category cap",
            {
                "fields": [("max_per_category", "top_k")],
                "classes": ["for-category_cap"],
                "description": "At most this many items of one category in the top k; the others move behind.",
            },
        ),
        (
            "Diversity (MMR)",
            {
                "fields": ["mmr_lambda"],
                "classes": ["for-mmr"],
                "description": "Re-orders the top of the list so that similar items spread out: 1 keeps the "
                "relevance order, 0 favours variety only; 0.7 is a usual start.",
            },
        ),
    ]

    @admin.display(description="target")
    def target(self, rule: MerchRule) -> str:
        if rule.kind == "pin":
            return f"{rule.product.external_id if rule.product_id else '?'} at {rule.position}"
        parts = [
            ", ".join(rule.item_id_list()[:3]) + ("…" if len(rule.item_id_list()) > 3 else ""),
            rule.target_category.path if rule.target_category_id else "",
            rule.target_brand,
            f"{rule.target_attribute}={rule.target_attribute_value}" if rule.target_attribute else "",
        ]
        return " · ".join(p for p in parts if p) or "-"

    def save_model(self, request: HttpRequest, obj: MerchRule, form: forms.ModelForm, change: bool) -> None:
        super().save_model(request, obj, form, change)
        # This process serves the edit at once; the others within the cache's few seconds.
        transaction.on_commit(rules_forget)

    def delete_model(self, request: HttpRequest, obj: MerchRule) -> None:
        super().delete_model(request, obj)
        transaction.on_commit(rules_forget)

    def get_urls(self) -> list:
        view = self.admin_site.admin_view
        return [
            path("dry-run/", view(self.dry_run_view), name="recommendations_merchrule_dryrun"),
            path("preview/", view(self.preview_view), name="recommendations_preview"),
            path("preview/customers/", view(self.customers_view), name="recommendations_preview_customers"),
            *super().get_urls(),
        ]

    def dry_run_view(self, request: HttpRequest) -> HttpResponse:
        """POST: the edit form's fields (not saved), checked, then replayed over the latest served
        lists as a job on a worker; GET with `job`: that job, running or done."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {**self.admin_site.each_context(request), "title": "Dry run", "opts": self.model._meta}
        if request.method != "POST":
            shown = job_context(request, request.GET.get("job"), kind=JobKind.RULE_DRY_RUN)
            if shown["job"] is None:
                raise Http404("a dry run starts from a rule's form")
            job = shown["job"]
            context |= {**shown, "rule_name": job.params["name"], "rule_kind": job.params["kind_label"]}
            return TemplateResponse(request, "admin/recommendations/merchrule/dry_run.html", context)
        instance = MerchRule.objects.filter(pk=id_param(request.POST.get("_rule_id"))).first() or MerchRule()
        form = self.get_form(request, instance if instance.pk else None)(request.POST, instance=instance)
        context |= {"rule_name": form.instance.name, "rule_kind": form.instance.get_kind_display(), "job": None}
        if not form.is_valid():
            return TemplateResponse(
                request, "admin/recommendations/merchrule/dry_run.html", context | {"errors": form.errors}
            )
        params = {
            "rule": serializers.serialize("json", [form.instance]),
            "name": form.instance.name,
            "kind_label": form.instance.get_kind_display(),
        }
        try:
            job = job_submit(request, kind=JobKind.RULE_DRY_RUN, params=params)
        except JobLimitReached as exc:
            return TemplateResponse(
                request, "admin/recommendations/merchrule/dry_run.html", context | {"limit": str(exc)}, status=429
            )
        return HttpResponseRedirect(f"{reverse('admin:recommendations_merchrule_dryrun')}?job={job.pk}")

    def preview_view(self, request: HttpRequest) -> HttpResponse:
        """GET: the form (prefilled from the query or the job shown); POST: check the input and run
        the preview as a job on a worker, then show it."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        shown = job_context(request, request.GET.get("job"), kind=JobKind.PLACEMENT_PREVIEW)
        job = shown["job"]
        params = request.POST if request.method == "POST" else (_form_values(job.params) if job else request.GET)
        placement = params.get("placement") or Placement.HOME_FEED
        error, status = None, 200
        if request.method == "POST":
            try:
                args = _preview_args(params)
                job = job_submit(request, kind=JobKind.PLACEMENT_PREVIEW, params=args)
            except ValueError as exc:
                error = str(exc)
            except JobLimitReached as exc:
                error, status = str(exc), 429
            else:
                return HttpResponseRedirect(f"{reverse('admin:recommendations_preview')}?job={job.pk}")
        result = job.result if job is not None else None
        if result and "error" in result:
            error, result = result["error"], None
        context = {
            **self.admin_site.each_context(request),
            **shown,
            "title": "Recommendation preview",
            "opts": self.model._meta,
            "params": params,
            "placement": placement,
            "placements": Placement.choices,
            "strategies": preview.strategy_choices(),
            "result": result,
            "error": error,
            "customers_url": reverse("admin:recommendations_preview_customers"),
        }
        return TemplateResponse(request, "admin/recommendations/preview.html", context, status=status)

    def customers_view(self, request: HttpRequest) -> JsonResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        if nul_params(request.GET, ("q",)):
            return JsonResponse({"error": nul_message(["q"])}, status=400)
        return JsonResponse({"customers": preview.customer_search(prefix=request.GET.get("q", "").strip()[:128])})


@admin.register(HiddenItem)
class HiddenItemAdmin(admin.ModelAdmin):
    list_display = ["customer_external_id", "product_external_id", "source", "created_at"]
    list_filter = ["source"]
    search_fields = ["=customer_external_id", "=product_external_id"]


@admin.register(ServedList)
class ServedListAdmin(admin.ModelAdmin):
    list_display = ["recommendation_id", "created_at", "placement", "customer_external_id", "strategy", "preview_link"]
    list_filter = ["placement", "strategy"]
    search_fields = ["=recommendation_id", "=customer_external_id"]
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(description="preview now")
    def preview_link(self, obj: ServedList) -> str:
        query = urlencode({"customer": obj.customer_external_id, "placement": obj.placement})
        return format_html('<a href="{}?{}">preview</a>', reverse("admin:recommendations_preview"), query)


def _preview_args(params: QueryDict) -> dict[str, Any]:
    """`recommendation_preview`'s arguments from the preview form; ValueError in words on bad input."""
    if nul_params(params):
        raise ValueError(nul_message(nul_params(params)))
    return {
        "placement": params.get("placement") or Placement.HOME_FEED,
        "customer_id": params.get("customer") or None,
        "k": k_param(params.get("k"), maximum=PREVIEW_MAX_K),
        "strategy_choice": params.get("strategy") or preview.DEFAULT,
        "product_id": params.get("product", "").strip(),
        "query": params.get("q", "").strip(),
        "category": params.get("category") or None,
    }


def _form_values(args: dict[str, Any]) -> dict[str, Any]:
    """The preview form's fields from a job's `_preview_args`, to show what was asked."""
    return {
        "placement": args["placement"],
        "customer": args["customer_id"] or "",
        "k": args["k"],
        "strategy": args["strategy_choice"],
        "product": args["product_id"],
        "q": args["query"],
        "category": args["category"] or "",
    }
