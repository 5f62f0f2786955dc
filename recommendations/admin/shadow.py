"""Shadow strategies in the admin: start one on a placement with a sample share, and read how its
lists compare with what was served (overlap, rank correlation, clicks it would have kept)."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Avg, Count, QuerySet
from django.http import HttpRequest

from placements.public import StrategyError, strategy_check, strategy_parse
from recommendations.shadow.models import ShadowList, ShadowStrategy
from recommendations.shadow.offer import shadows_forget
from recommendations.shadow.scoring import shadow_report


class ShadowStrategyForm(forms.ModelForm):
    class Meta:
        model = ShadowStrategy
        fields = ["placement", "config", "sample_share", "is_active", "note"]

    def clean_config(self) -> dict:
        config = self.cleaned_data["config"]
        try:
            strategy_check(strategy_parse(config))
        except StrategyError as exc:
            raise ValidationError(str(exc)) from exc
        return config

    def clean_sample_share(self) -> float:
        share = self.cleaned_data["sample_share"]
        if not 0 < share <= 1:
            raise ValidationError("The sample share must be above 0 and at most 1.")
        return share

    def clean(self) -> dict:
        data = super().clean()
        placement, active = data.get("placement"), data.get("is_active")
        others = ShadowStrategy.objects.filter(placement=placement, is_active=True).exclude(pk=self.instance.pk)
        if active and others.exists():
            raise ValidationError(f"{placement} already has an active shadow; deactivate it first.")
        return data


@admin.register(ShadowStrategy)
class ShadowStrategyAdmin(admin.ModelAdmin):
    form = ShadowStrategyForm
    list_display = ("__str__", "is_active", "sample_share", "lists", "overlap", "rank_correlation", "clicks_held")
    list_filter = ("placement", "is_active")
    readonly_fields = ("report",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[ShadowStrategy]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                n=Count("lists"), mean_overlap=Avg("lists__overlap_at_k"), mean_tau=Avg("lists__rank_correlation")
            )
        )

    @admin.display(description="lists compared", ordering="n")
    def lists(self, obj: ShadowStrategy) -> int:
        return obj.n

    @admin.display(description="overlap@k")
    def overlap(self, obj: ShadowStrategy) -> str:
        return "-" if obj.mean_overlap is None else f"{obj.mean_overlap:.2f}"

    @admin.display(description="rank correlation (τ)")
    def rank_correlation(self, obj: ShadowStrategy) -> str:
        return "-" if obj.mean_tau is None else f"{obj.mean_tau:+.2f}"

    @admin.display(description="clicked items the shadow also had")
    def clicks_held(self, obj: ShadowStrategy) -> str:
        report = shadow_report(shadow_id=obj.pk)
        return (
            "no clicks yet"
            if report.clicks_shadow_held is None
            else f"{report.clicks_shadow_held:.0%} of {report.clicks}"
        )

    @admin.display(description="comparison")
    def report(self, obj: ShadowStrategy) -> str:
        if obj.pk is None:
            return "-"
        r = shadow_report(shadow_id=obj.pk)
        if not r.lists:
            return "No lists compared yet: they come as the placement serves (a share of its requests)."
        tau = "-" if r.mean_rank_correlation is None else f"{r.mean_rank_correlation:+.2f}"
        held = "no clicks yet" if r.clicks_shadow_held is None else f"{r.clicks_shadow_held:.0%} of {r.clicks} clicks"
        return (
            f"{r.lists} lists; mean overlap@k {r.mean_overlap:.2f}; rank correlation {tau}; "
            f"clicked items it held: {held}"
        )

    def save_model(self, request: HttpRequest, obj: ShadowStrategy, form: forms.ModelForm, change: bool) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
        shadows_forget()


@admin.register(ShadowList)
class ShadowListAdmin(admin.ModelAdmin):
    list_display = ("recommendation_id", "shadow", "created_at", "overlap_at_k", "rank_correlation")
    list_filter = ("shadow",)
    readonly_fields = (
        "shadow",
        "recommendation_id",
        "created_at",
        "served",
        "shadow_items",
        "overlap_at_k",
        "rank_correlation",
        "served_positions",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ShadowList | None = None) -> bool:
        return False
