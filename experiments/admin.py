"""Experiments admin: operators define experiments and variants and move them through their
lifecycle (actions call the services), and read the results page; exposures and snapshots are
read-only. The bad-case review queue is registered by recommendations.badcases.admin."""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from experiments import services, serving
from experiments.dashboard import InterleavingExperiment, experiment_dashboard, guardrail_banner
from experiments.interleaving_dashboard import interleaving_dashboard
from experiments.models import Experiment, Exposure, Kind, Layer, Metric, Status, Variant, VariantDailySnapshot
from experiments.stats import MIN_UNITS_PER_VARIANT, SRM_ALPHA
from experiments.tasks import build_experiment_snapshots


class VariantForm(forms.ModelForm):
    class Meta:
        model = Variant
        fields = ["key", "is_control", "weight", "config"]

    def clean_config(self) -> dict:
        config = self.cleaned_data["config"]
        try:
            services.variant_config_check(config=config)
        except services.ExperimentError as exc:
            raise ValidationError(str(exc)) from exc
        return config


class VariantFormSet(forms.BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        weights = {
            form.cleaned_data["key"]: form.cleaned_data["weight"]
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        }
        try:
            services.variants_change_check(experiment=self.instance, weights=weights)
        except services.ExperimentError as exc:
            raise ValidationError(str(exc)) from exc


class VariantInline(admin.TabularInline):
    model = Variant
    form = VariantForm
    formset = VariantFormSet
    extra = 0


class ExperimentForm(forms.ModelForm):
    guardrail_metrics = forms.MultipleChoiceField(
        choices=Metric.choices, required=False, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = Experiment
        fields = [
            "key",
            "hypothesis",
            "placement",
            "kind",
            "layer",
            "traffic_share",
            "salt",
            "primary_metric",
            "guardrail_metrics",
            "guardrail_stop",
        ]

    def clean_traffic_share(self) -> float:
        share = self.cleaned_data["traffic_share"]
        if not 0 < share <= 1:
            raise ValidationError("The traffic share must be above 0 and at most 1.")
        return share

    def clean(self) -> dict:
        cleaned = super().clean()
        if cleaned.get("kind") == Kind.INTERLEAVING and cleaned.get("guardrail_metrics"):
            self.add_error(
                "guardrail_metrics",
                "An interleaving experiment has no per-variant customers to guard: every customer sees both "
                "variants. Clear the guardrails, or run an A/B test.",
            )
        return cleaned


def _lifecycle_action(service: Callable[..., Experiment], verb: str, done: str) -> Callable:
    def action(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Experiment]) -> None:
        for experiment in queryset:
            try:
                service(experiment_id=experiment.pk)
            except services.ExperimentError as exc:
                modeladmin.message_user(request, f"{experiment.key}: {exc}", level=messages.ERROR)
            else:
                modeladmin.message_user(request, f"{experiment.key}: {done}.", level=messages.SUCCESS)

    action.__name__ = f"experiment_{verb}"
    return admin.action(description=f"{verb.capitalize()} the selected experiments")(action)


@admin.register(Experiment)
class ExperimentAdmin(admin.ModelAdmin):
    form = ExperimentForm
    inlines = [VariantInline]
    list_display = [
        "key",
        "placement",
        "kind",
        "status",
        "traffic",
        "primary_metric",
        "started_at",
        "stopped_at",
        "health",
        "results_link",
    ]
    list_filter = ["status", "placement", "kind", "layer"]
    search_fields = ["key", "hypothesis"]
    readonly_fields = [
        "status",
        "started_at",
        "stopped_at",
        "created_at",
        "exposed_customers",
        "srm_p_value",
        "guardrail_breach_text",
    ]
    actions = [
        _lifecycle_action(services.experiment_launch, "launch", "launched"),
        _lifecycle_action(services.experiment_pause, "pause", "paused"),
        _lifecycle_action(services.experiment_complete, "complete", "completed"),
    ]

    @admin.display(description="health")
    def health(self, obj: Experiment) -> str:
        """From the latest snapshot: exposed customers, and whether the split matches the weights."""
        if obj.kind == Kind.INTERLEAVING:
            # No snapshots and no split to check: every customer sees both variants.
            return "interleaving: preferences on the results page"
        breach = ""
        if obj.guardrail_breach:
            found = ", ".join(f"{b['metric']} of {b['variant']}" for b in obj.guardrail_breach["breaches"])
            breach = f"GUARDRAIL BREACHED ({found}; {'paused' if obj.guardrail_breach['paused'] else 'not stopped'}); "
        if obj.results_as_of is None or obj.srm_p_value is None:
            return f"{breach}no data yet"
        verdict = "SAMPLE-RATIO MISMATCH" if obj.srm_p_value < SRM_ALPHA else "split OK"
        return (
            f"{breach}{verdict} (p={obj.srm_p_value:.3g}), {obj.exposed_customers:,} customers by {obj.results_as_of}"
        )

    @admin.display(description="guardrail breach")
    def guardrail_breach_text(self, obj: Experiment) -> str:
        return guardrail_banner(obj) or "none"

    @admin.display(description="traffic")
    def traffic(self, obj: Experiment) -> str:
        """Its share, and once launched the slice of its layer it owns."""
        if obj.layer_start is None:
            return f"{obj.traffic_share:.0%} ({obj.layer_key})"
        return f"{obj.traffic_share:.0%} ({obj.layer_key}: {obj.layer_start:.0%}–{obj.layer_end:.0%})"

    @admin.display(description="results")
    def results_link(self, obj: Experiment) -> str:
        return format_html('<a href="{}">results</a>', reverse("admin:experiments_experiment_results", args=[obj.pk]))

    def get_urls(self) -> list:
        results = path(
            "<int:experiment_id>/results/",
            self.admin_site.admin_view(self.results_view),
            name="experiments_experiment_results",
        )
        ship = path(
            "<int:experiment_id>/results/ship/",
            self.admin_site.admin_view(self.ship_view),
            name="experiments_experiment_ship",
        )
        refresh = path(
            "<int:experiment_id>/results/refresh/",
            self.admin_site.admin_view(self.refresh_view),
            name="experiments_experiment_refresh",
        )
        return [results, ship, refresh, *super().get_urls()]

    def refresh_view(self, request: HttpRequest, experiment_id: int) -> HttpResponse:
        """POST: queue the snapshot task now (it rebuilds every collecting experiment's last days)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_view_permission(request):
            raise PermissionDenied
        build_experiment_snapshots.delay()
        self.message_user(
            request,
            "Snapshot refresh queued: the worker rebuilds the snapshots of every running experiment "
            "and checks their guardrails; reload this page in a minute to see the new numbers.",
            level=messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("admin:experiments_experiment_results", args=[experiment_id]))

    def ship_view(self, request: HttpRequest, experiment_id: int) -> HttpResponse:
        """POST `variant`: its strategy becomes the placement's default; the experiment completes."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not (self.has_change_permission(request) and request.user.has_perm("placements.add_defaultstrategy")):
            raise PermissionDenied
        results = reverse("admin:experiments_experiment_results", args=[experiment_id])
        share_text = request.POST.get("share", "100").strip()
        try:
            shipped = services.variant_ship(
                experiment_id=experiment_id,
                variant_key=request.POST.get("variant", ""),
                user=request.user,
                share=int(share_text) if share_text.isdigit() else -1,
            )
        except services.ExperimentError as exc:
            self.message_user(request, f"Not shipped: {exc}", level=messages.ERROR)
            return HttpResponseRedirect(results)
        reach = "by default" if shipped.share == 100 else f"to {shipped.share}% of customers (a gradual rollout)"
        self.message_user(
            request,
            f"Shipped: {shipped.get_placement_display()} now serves this strategy {reach} (v{shipped.version}); "
            "the experiment is completed.",
            level=messages.SUCCESS,
        )
        return HttpResponseRedirect(
            reverse("admin:placements_defaultstrategy_changelist") + f"?placement__exact={shipped.placement}"
        )

    def results_view(self, request: HttpRequest, experiment_id: int) -> HttpResponse:
        if not self.has_view_permission(request):
            raise Http404
        try:
            dashboard = experiment_dashboard(experiment_id=experiment_id)
        except Experiment.DoesNotExist as exc:
            raise Http404 from exc
        except InterleavingExperiment:
            return self._interleaving_results(request, experiment_id)
        context = self._results_context(request, dashboard) | {
            "can_refresh": dashboard.experiment.started_at is not None,
            "min_units": MIN_UNITS_PER_VARIANT,
        }
        return TemplateResponse(request, "admin/experiments/experiment/results.html", context)

    def _interleaving_results(self, request: HttpRequest, experiment_id: int) -> HttpResponse:
        try:
            dashboard = interleaving_dashboard(experiment_id=experiment_id)
        except ValueError as exc:
            # An interleaving draft not yet given its two variants: nothing to compute.
            self.message_user(request, str(exc), level=messages.WARNING)
            return HttpResponseRedirect(reverse("admin:experiments_experiment_change", args=[experiment_id]))
        context = self._results_context(request, dashboard)
        return TemplateResponse(request, "admin/experiments/experiment/interleaving_results.html", context)

    def _results_context(self, request: HttpRequest, dashboard) -> dict:
        """What both results pages show: the dashboard and whether this user may ship a variant."""
        return {
            **self.admin_site.each_context(request),
            "title": f"Results: {dashboard.experiment.key}",
            "opts": self.model._meta,
            "dashboard": dashboard,
            "can_ship": dashboard.experiment.status in services.LAUNCHED
            and self.has_change_permission(request)
            and request.user.has_perm("placements.add_defaultstrategy"),
            "ship_variants": dashboard.experiment.variants.all(),
        }

    def get_readonly_fields(self, request: HttpRequest, obj: Experiment | None = None) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.status != Status.DRAFT:
            # Key, salt and placement feed the assignment hash and the serving lookup: changing
            # them after launch would move customers between variants (and the kind how they are served).
            fields += ["key", "salt", "placement", "kind", "layer", "traffic_share"]
        return fields

    def save_related(self, request: HttpRequest, form: forms.ModelForm, formsets: list, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        # Config edits reach this process's serving snapshot at once (others within seconds).
        serving.running_experiments_forget()


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Exposure)
class ExposureAdmin(ReadOnlyAdmin):
    list_display = ["recommendation_id", "experiment", "variant", "customer_external_id", "placement", "created_at"]
    list_select_related = ["experiment", "variant__experiment"]
    list_filter = ["placement", "experiment"]
    search_fields = ["=recommendation_id", "=customer_external_id"]
    show_full_result_count = False


@admin.register(VariantDailySnapshot)
class VariantDailySnapshotAdmin(ReadOnlyAdmin):
    list_display = ["experiment", "variant", "day", "customers", "exposures", "clicks", "purchasers", "revenue"]
    list_select_related = ["experiment", "variant__experiment"]
    list_filter = ["experiment"]


class LayerForm(forms.ModelForm):
    class Meta:
        model = Layer
        fields = ["key", "holdout_share"]

    def clean_holdout_share(self) -> float:
        share = self.cleaned_data["holdout_share"]
        if not 0 <= share <= 0.5:
            raise ValidationError("The holdout share must be from 0 to 0.5.")
        changed = self.instance.pk is not None and share != self.instance.holdout_share
        if changed and services.layer_launched(layer=self.instance.key):
            raise ValidationError(
                "Experiments of this layer are launched: a new holdout would move their customers. Complete them first."
            )
        return share


@admin.register(Layer)
class LayerAdmin(admin.ModelAdmin):
    """Layers: groups of experiments that never share a customer, each with its holdout."""

    form = LayerForm
    list_display = ["key", "holdout_share", "experiments_launched"]

    @admin.display(description="launched experiments")
    def experiments_launched(self, obj: Layer) -> str:
        return ", ".join(services.layer_launched(layer=obj.key)) or "-"

    def get_readonly_fields(self, request: HttpRequest, obj: Layer | None = None) -> list[str]:
        return ["key"] if obj is not None else []
