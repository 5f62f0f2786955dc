"""The bad-case review queue: filter, triage, assign, note, and resolve in one click (hide the
item for that customer, or create an exclude rule); resolved cases export as a regression set.

Registered here rather than in experiments (where the model lives) because the resolutions write
recommendation rules, and experiments may not import recommendations."""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.timesince import timesince

from catalog.public import Product
from recommendations.badcases.models import BadCase, BadCaseResolution, BadCaseSource, BadCaseStatus
from recommendations.badcases.presentation import badcase_served_rows, badcase_why, product_titles
from recommendations.badcases.replay import regression_case
from recommendations.badcases.resolution import (
    ResolutionError,
    badcase_resolve,
    badcase_resolve_exclude,
    badcase_resolve_hide,
    badcase_triage,
)
from recommendations.reasons.models import PromptTemplateVersion

# Short names for the queue's detector column (the full one is the tooltip and the filter's label).
DETECTOR_SHORT = {
    BadCaseSource.FEEDBACK: "customer feedback",
    BadCaseSource.OUT_OF_STOCK_SERVED: "out of stock",
    BadCaseSource.PURCHASED_SERVED: "already bought",
    BadCaseSource.REASON_GUARDRAIL: "reason guardrail",
    BadCaseSource.LOW_RELEVANCE: "low relevance",
}


@admin.register(BadCase)
class BadCaseAdmin(admin.ModelAdmin):
    change_form_template = "admin/recommendations/badcase/change_form.html"
    # One line per case, fitting 1400 px: what was flagged, where, by whom, how long ago, and who has it.
    list_display = ["item_title", "placement", "detector", "age", "status", "assignee"]
    list_display_links = ["item_title"]
    list_filter = ["status", "source", "reason_code", "placement", "assignee"]
    list_select_related = ["assignee"]
    search_fields = ["product_external_id", "customer_external_id", "text", "=recommendation_id"]
    fieldsets = [
        (None, {"fields": ["why", ("status", "assignee"), "notes"]}),
        ("Served list (the flagged item highlighted)", {"fields": ["served_list"]}),
        (
            "Details",
            {
                "fields": [
                    ("source", "reason_code", "placement"),
                    "text",
                    ("customer_external_id", "product_external_id"),
                    "recommendation_id",
                    ("resolution", "resolution_ref", "resolved_at"),
                    "prompt_template",
                    "created_at",
                    "snapshot_details",
                ]
            },
        ),
    ]
    readonly_fields = [
        "why",
        "source",
        "reason_code",
        "placement",
        "text",
        "customer_external_id",
        "product_external_id",
        "recommendation_id",
        "resolution",
        "resolution_ref",
        "resolved_at",
        "prompt_template",
        "served_list",
        "snapshot_details",
        "created_at",
    ]
    actions = ["triage_to_me", "mark_wont_fix", "resolve_hide", "resolve_exclude", "export_regression_set"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[BadCase]:
        title = Product.objects.filter(external_id=OuterRef("product_external_id")).values("title")[:1]
        return super().get_queryset(request).annotate(item_title=Subquery(title))

    @admin.display(description="flagged item", ordering="item_title")
    def item_title(self, case: BadCase) -> str:
        title = getattr(case, "item_title", None) or product_titles([case.product_external_id]).get(
            case.product_external_id, ""
        )
        return format_html(
            '<span class="case-title" title="{} ({})">{}</span>',
            title,
            case.product_external_id or "-",
            title or case.product_external_id or "(no item)",
        )

    @admin.display(description="detector", ordering="source")
    def detector(self, case: BadCase) -> str:
        return format_html(
            '<span title="{}">{}</span>', case.get_source_display(), DETECTOR_SHORT.get(case.source, case.source)
        )

    @admin.display(description="age", ordering="created_at")
    def age(self, case: BadCase) -> str:
        # Only the largest unit: "3 days", not "3 days, 4 hours", so the column stays narrow.
        return timesince(case.created_at, depth=1)

    @admin.display(description="why it was flagged")
    def why(self, case: BadCase) -> str:
        title = product_titles([case.product_external_id]).get(case.product_external_id, "")
        return format_html('<p id="why-flagged">{}</p>', badcase_why(case, title=title))

    @admin.display(description="served list")
    def served_list(self, case: BadCase) -> str:
        rows = badcase_served_rows(case)
        if not rows:
            return "-"
        cards = format_html_join(
            "",
            '<tr class="{}"><td class="pos">{}</td><td>{}</td><td><strong>{}</strong><br>'
            '<span class="quiet">{}</span></td><td>{}</td><td>{}</td><td>{}</td></tr>',
            (
                (
                    "flagged" if row.flagged else "",
                    row.position,
                    format_html('<img src="{}" alt="" class="thumb" loading="lazy">', row.image_url)
                    if row.image_url
                    else format_html('<span class="thumb placeholder" title="no image">{}</span>', row.title[:1]),
                    row.title,
                    row.product_id + (" — flagged" if row.flagged else ""),
                    row.routes,
                    row.rules or "-",
                    f"{row.score:.4f}",
                )
                for row in rows
            ),
        )
        return format_html(
            '<table id="snapshot-items"><thead><tr><th>#</th><th></th><th>item</th><th>routes</th>'
            "<th>rules</th><th>final score</th></tr></thead><tbody>{}</tbody></table>",
            cards,
        )

    @admin.display(description="prompt template")
    def prompt_template(self, case: BadCase) -> str:
        """For a generated reason that failed a guardrail: open the template version that wrote it."""
        version_id = (case.snapshot or {}).get("template_version")
        version = PromptTemplateVersion.objects.filter(pk=version_id).select_related("template").first()
        if version is None:
            return "-"
        url = reverse("admin:recommendations_prompttemplate_change", args=[version.template_id])
        return format_html('<a href="{}" id="open-template">{} v{}</a>', url, version.template.name, version.version)

    @admin.display(description="raw snapshot")
    def snapshot_details(self, case: BadCase) -> str:
        # Collapsed: the facts behind the words above, for whoever debugs the engine.
        return format_html(
            '<details id="raw-snapshot"><summary>JSON: served list, variant, versions, features, evidence</summary>'
            '<pre style="white-space:pre-wrap">{}</pre></details>',
            json.dumps(case.snapshot or {}, indent=1, default=str),
        )

    def response_change(self, request: HttpRequest, obj: BadCase) -> HttpResponse:
        for button, resolve in (("_resolve_hide", self._hide), ("_resolve_exclude", self._exclude)):
            if button in request.POST:
                resolve(request, obj)
                return HttpResponseRedirect(reverse("admin:recommendations_badcase_change", args=[obj.pk]))
        return super().response_change(request, obj)

    def _hide(self, request: HttpRequest, case: BadCase) -> None:
        try:
            badcase_resolve_hide(case_id=case.pk)
        except ResolutionError as exc:
            self.message_user(request, str(exc), level=messages.ERROR)
            return
        self.log_change(request, case, f"Resolved: {case.product_external_id} hidden for {case.customer_external_id}")
        self.message_user(
            request,
            f"{case.product_external_id} is hidden for {case.customer_external_id}; case resolved.",
            level=messages.SUCCESS,
        )

    def _exclude(self, request: HttpRequest, case: BadCase) -> None:
        try:
            case, rule_id = badcase_resolve_exclude(case_id=case.pk)
        except ResolutionError as exc:
            self.message_user(request, str(exc), level=messages.ERROR)
            return
        self.log_change(request, case, f"Resolved with exclude rule {rule_id}")
        url = reverse("admin:recommendations_merchrule_change", args=[rule_id])
        self.message_user(
            request,
            format_html('Exclude rule <a href="{}">#{}</a> created; case resolved.', url, rule_id),
            level=messages.SUCCESS,
        )

    @admin.action(description="Triage the selected cases and assign them to me")
    def triage_to_me(self, request: HttpRequest, queryset: QuerySet[BadCase]) -> None:
        for case in queryset:
            badcase_triage(case_id=case.pk, assignee_id=request.user.pk)
            self.log_change(request, case, "Triaged")
        count = queryset.count()
        self.message_user(
            request, f"{count} case{'s' if count != 1 else ''} triaged and assigned to you.", level=messages.SUCCESS
        )

    @admin.action(description="Won't fix")
    def mark_wont_fix(self, request: HttpRequest, queryset: QuerySet[BadCase]) -> None:
        for case in queryset:
            badcase_resolve(case_id=case.pk, resolution=BadCaseResolution.NONE, status=BadCaseStatus.WONT_FIX)
            self.log_change(request, case, "Won't fix")

    @admin.action(description="Resolve: hide the item for that customer")
    def resolve_hide(self, request: HttpRequest, queryset: QuerySet[BadCase]) -> None:
        for case in queryset:
            self._hide(request, case)

    @admin.action(description="Resolve: create an exclude rule for the item")
    def resolve_exclude(self, request: HttpRequest, queryset: QuerySet[BadCase]) -> None:
        for case in queryset:
            self._exclude(request, case)

    @admin.action(description="Export the selected resolved cases as a regression set (JSON Lines)")
    def export_regression_set(self, request: HttpRequest, queryset: QuerySet[BadCase]) -> HttpResponse:
        resolved = queryset.filter(status=BadCaseStatus.RESOLVED).order_by("created_at", "pk")
        body = "".join(json.dumps(regression_case(case)) + "\n" for case in resolved)
        response = HttpResponse(body, content_type="application/jsonl")
        response["Content-Disposition"] = 'attachment; filename="bad-cases-regression.jsonl"'
        return response
