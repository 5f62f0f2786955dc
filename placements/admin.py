"""Default strategies in the admin: each placement's history of versions, a new version from a
form (checked before it is stored), and a rollback to any older one. Versions are never edited
or deleted: the history is the audit trail."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest

from placements.defaults import default_strategy_rollback, default_strategy_save
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
        fields = ["placement", "config", "note"]
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


@admin.register(DefaultStrategy)
class DefaultStrategyAdmin(admin.ModelAdmin):
    form = DefaultStrategyForm
    list_display = ("placement", "version", "serving", "summary", "short_note", "created_by", "created")
    list_filter = ("placement",)
    ordering = ("placement", "-version")
    actions = ["rollback"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[DefaultStrategy]:
        latest = DefaultStrategy.objects.filter(placement=OuterRef("placement")).order_by("-version")
        return super().get_queryset(request).annotate(latest=Subquery(latest.values("version")[:1]))

    def get_readonly_fields(self, request: HttpRequest, obj: DefaultStrategy | None = None) -> tuple[str, ...]:
        return ("placement", "config", "note", "version", "created_by", "created_at") if obj else ()

    @admin.display(boolean=True, description="serving")
    def serving(self, obj: DefaultStrategy) -> bool:
        return obj.version == getattr(obj, "latest", obj.version)

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
        saved = default_strategy_save(placement=obj.placement, config=obj.config, note=obj.note, user=request.user)
        obj.pk, obj.version = saved.pk, saved.version

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
