"""The bad-case review queue: filter, triage, assign, note, and resolve in one click (hide the
item for that customer, or create an exclude rule); resolved cases export as a regression set.

Registered here rather than in experiments (where the model lives) because the resolutions write
recommendation rules, and experiments may not import recommendations."""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from recommendations.badcases.models import BadCase, BadCaseResolution, BadCaseStatus
from recommendations.badcases.replay import regression_case
from recommendations.badcases.resolution import (
    ResolutionError,
    badcase_resolve,
    badcase_resolve_exclude,
    badcase_resolve_hide,
    badcase_triage,
)
from recommendations.reasons.models import PromptTemplateVersion


@admin.register(BadCase)
class BadCaseAdmin(admin.ModelAdmin):
    change_form_template = "admin/recommendations/badcase/change_form.html"
    list_display = [
        "id",
        "created_at",
        "source",
        "reason_code",
        "product_external_id",
        "customer_external_id",
        "placement",
        "status",
        "assignee",
    ]
    list_filter = ["status", "source", "reason_code", "placement", "assignee"]
    list_select_related = ["assignee"]
    search_fields = ["product_external_id", "customer_external_id", "text", "=recommendation_id"]
    fields = [
        ("status", "assignee"),
        "notes",
        ("source", "reason_code", "placement"),
        "text",
        ("customer_external_id", "product_external_id"),
        "recommendation_id",
        ("resolution", "resolution_ref", "resolved_at"),
        "prompt_template",
        "served_list",
        "snapshot_details",
        "created_at",
    ]
    readonly_fields = [
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

    @admin.display(description="served list")
    def served_list(self, case: BadCase) -> str:
        items = (case.snapshot or {}).get("items") or []
        if not items:
            return "-"
        flagged = case.product_external_id
        rows = format_html_join(
            "",
            '<tr class="{}"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>',
            (
                (
                    "flagged" if item["id"] == flagged else "",
                    item["position"],
                    item["id"],
                    ", ".join(f"{r} {s:.2f}" for r, s in item.get("routes", {}).items()),
                    "" if item.get("ranked_score") is None else f"{item['ranked_score']:.4f}",
                    "; ".join(f"#{t['rule']} {t['kind']}: {t['effect']}" for t in item.get("rules", [])),
                    f"{item['score']:.4f}",
                )
                for item in items
            ),
        )
        return format_html(
            '<table id="snapshot-items"><thead><tr><th>#</th><th>item</th><th>routes</th><th>ranker score</th>'
            "<th>rules</th><th>final score</th></tr></thead><tbody>{}</tbody></table>",
            rows,
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

    @admin.display(description="snapshot (variant, versions, features, evidence)")
    def snapshot_details(self, case: BadCase) -> str:
        details = {key: value for key, value in (case.snapshot or {}).items() if key != "items"}
        return format_html("<pre>{}</pre>", json.dumps(details, indent=1, default=str))

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
