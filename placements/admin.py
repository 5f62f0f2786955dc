"""Default strategies in the admin: each placement's history of versions, a new version from a
form (checked before it is stored), and a rollback to any older one. Versions are never edited
or deleted: the history is the audit trail."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse

from placements.defaults import (
    FULL,
    RolloutError,
    default_strategy_rollback,
    default_strategy_save,
    rollback_target,
    rollout_share_set,
)
from placements.models import DefaultStrategy
from placements.strategy import StrategyError, strategy_check, strategy_parse

EXAMPLE = {
    "routes": {"itemcf": 1.0, "cf": 1.0, "semantic": 0.5, "popularity": 0.1},
    "ranker": "fused",
    "rules": True,
    "reasons": None,
    "llm_rerank": None,
}


class DefaultStrategyForm(forms.ModelForm):
    class Meta:
        model = DefaultStrategy
        fields = ["placement", "config", "share", "note"]
        help_texts = {
            "config": "The strategy as JSON, e.g. "
            + json.dumps(EXAMPLE)
            + ". Keys: routes (required), candidates_per_route, k, ranker (a trained ranker's name, or"
            ' "fused"), rules (false: merchandising rules off), reasons (null: the placement\'s pool,'
            " false: none, or a reason template's name), llm_rerank (null, or 2 to 50 top items)."
        }

    def clean_config(self) -> dict:
        config = self.cleaned_data["config"]
        try:
            strategy_check(strategy_parse(config))
        except StrategyError as exc:
            raise ValidationError(str(exc)) from exc
        return config


def version_state(*, share: int, newer_version: int | None, newer_share: int | None, newer_full: int | None) -> str:
    """What a version does now, from the versions above it."""
    if newer_version is None:
        return "serving" if share == FULL else f"rolling out: {share}% of customers"
    if share == FULL and newer_full is None and newer_share is not None:
        return f"serving the other {FULL - newer_share}%"
    return "replaced"


@admin.register(DefaultStrategy)
class DefaultStrategyAdmin(admin.ModelAdmin):
    form = DefaultStrategyForm
    list_display = ("placement", "version", "state", "summary", "short_note", "created_by", "created")
    list_filter = ("placement",)
    ordering = ("placement", "-version")
    actions = ["rollback"]

    change_form_template = "admin/placements/defaultstrategy/change_form.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[DefaultStrategy]:
        newer = DefaultStrategy.objects.filter(placement=OuterRef("placement"), version__gt=OuterRef("version"))
        return (
            super()
            .get_queryset(request)
            .annotate(
                # The newest version above this one, and the newest fully rolled-out one above it.
                newer_version=Subquery(newer.order_by("-version").values("version")[:1]),
                newer_share=Subquery(newer.order_by("-version").values("share")[:1]),
                newer_full=Subquery(newer.filter(share=FULL).values("version")[:1]),
            )
        )

    def get_readonly_fields(self, request: HttpRequest, obj: DefaultStrategy | None = None) -> tuple[str, ...]:
        return ("placement", "config", "share", "note", "version", "created_by", "created_at") if obj else ()

    @admin.display(description="state")
    def state(self, obj: DefaultStrategy) -> str:
        return version_state(
            share=obj.share,
            newer_version=getattr(obj, "newer_version", None),
            newer_share=getattr(obj, "newer_share", None),
            newer_full=getattr(obj, "newer_full", None),
        )

    @admin.display(description="why", ordering="note")
    def short_note(self, obj: DefaultStrategy) -> str:
        return obj.note if len(obj.note) <= 80 else obj.note[:79] + "…"

    @admin.display(description="created", ordering="created_at")
    def created(self, obj: DefaultStrategy) -> str:
        return f"{obj.created_at:%Y-%m-%d %H:%M}"

    @admin.display(description="strategy")
    def summary(self, obj: DefaultStrategy) -> str:
        config = obj.config if isinstance(obj.config, dict) else {}
        routes = ", ".join(f"{route} {weight:g}" for route, weight in (config.get("routes") or {}).items())
        parts = [routes]
        if config.get("ranker") not in (None, "fused"):
            parts.append(f"ranker {config['ranker']}")
        if config.get("rules") is False:
            parts.append("rules off")
        if config.get("llm_rerank"):
            parts.append(f"llm rerank {config['llm_rerank']}")
        return "; ".join(parts)

    def save_model(self, request: HttpRequest, obj: DefaultStrategy, form: forms.ModelForm, change: bool) -> None:
        # Through the service: the next version number, the author, the serving cache refreshed.
        saved = default_strategy_save(
            placement=obj.placement, config=obj.config, note=obj.note, share=obj.share, user=request.user
        )
        obj.pk, obj.version = saved.pk, saved.version

    def get_urls(self) -> list:
        own = [
            path("<int:pk>/rollout/", self.admin_site.admin_view(self.rollout_view), name="placements_rollout_share"),
            path("<int:pk>/rollback/", self.admin_site.admin_view(self.rollback_view), name="placements_rollback"),
        ]
        return own + super().get_urls()

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        version = self.get_object(request, object_id)
        extra: dict = {}
        if version is not None:
            newest = DefaultStrategy.objects.filter(placement=version.placement).order_by("-version").first()
            extra = {
                "rollout_steps": version.rollout_steps.select_related("created_by"),
                "can_roll": self.has_add_permission(request) and newest == version and version.share < FULL,
                "rollback_to": rollback_target(placement=version.placement) if newest == version else None,
                "can_rollback": self.has_add_permission(request),
            }
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    def rollout_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        version = self._posted_version(request, pk)
        try:
            share = int(request.POST.get("share", ""))
        except ValueError:
            share = -1
        try:
            rollout_share_set(placement=version.placement, share=share, user=request.user)
        except RolloutError as exc:
            self.message_user(request, f"Not changed: {exc}.", messages.ERROR)
        else:
            done = "the rollout is complete" if share == FULL else f"it now serves {share}% of customers"
            self.message_user(request, f"{version.get_placement_display()} v{version.version}: {done}.")
        return HttpResponseRedirect(reverse("admin:placements_defaultstrategy_change", args=[pk]))

    def rollback_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        version = self._posted_version(request, pk)
        target = rollback_target(placement=version.placement)
        if target is None:
            self.message_user(request, "Nothing to roll back to: no earlier fully rolled-out version.", messages.ERROR)
            return HttpResponseRedirect(reverse("admin:placements_defaultstrategy_change", args=[pk]))
        saved = default_strategy_rollback(placement=version.placement, to_version=target.version, user=request.user)
        self.message_user(
            request, f"{saved.get_placement_display()} now serves v{saved.version} (the strategy of v{target.version})."
        )
        return HttpResponseRedirect(reverse("admin:placements_defaultstrategy_changelist"))

    def _posted_version(self, request: HttpRequest, pk: int) -> DefaultStrategy:
        if request.method != "POST":
            raise PermissionDenied
        if not self.has_add_permission(request):
            raise PermissionDenied
        version = DefaultStrategy.objects.filter(pk=pk).first()
        if version is None:
            raise Http404
        return version

    def has_change_permission(self, request: HttpRequest, obj: DefaultStrategy | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: DefaultStrategy | None = None) -> bool:
        return False

    @admin.action(permissions=["add"], description="Roll back: serve the selected version again (as a new version)")
    def rollback(self, request: HttpRequest, queryset: QuerySet[DefaultStrategy]) -> None:
        chosen = list(queryset[:2])
        if len(chosen) != 1:
            self.message_user(request, "Select exactly one version to roll back to.", messages.ERROR)
            return
        old = chosen[0]
        try:
            saved = default_strategy_rollback(placement=old.placement, to_version=old.version, user=request.user)
        except (StrategyError, ValueError) as exc:
            self.message_user(request, f"Not rolled back: {exc}", messages.ERROR)
            return
        self.message_user(
            request, f"{old.get_placement_display()} now serves v{saved.version} (the strategy of v{old.version})."
        )
