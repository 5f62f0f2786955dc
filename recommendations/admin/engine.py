"""Admin for the engine's stored results: evaluation runs, ranker, collaborative and adapted
embedding versions."""

from __future__ import annotations

from django.contrib import admin, messages

from recommendations.admin.gate import gate_summary, gate_table
from recommendations.models import CollaborativeModel, EmbeddingAdaptation, EvaluationRun, RankerModel
from recommendations.ranking.training import RankerGateError, importance_top, ranker_activate, ranker_gate
from recommendations.recall.collaborative import collaborative_activate


@admin.register(EvaluationRun)
class EvaluationRunAdmin(admin.ModelAdmin):
    list_display = ("created_at", "split", "users", "ndcg_by_strategy", "recall_by_strategy", "gate", "duration_s")
    readonly_fields = ("comparison", "created_at", "protocol", "strategies", "duration_s")
    ordering = ("-created_at",)

    def get_fields(self, request, obj: EvaluationRun | None = None) -> tuple[str, ...]:
        fields = self.readonly_fields
        # The side-by-side table only for the gate's runs (a strategy against the serving default).
        return fields if obj is not None and "gate" in obj.protocol else fields[1:]

    @admin.display(description="offline gate: evaluated vs serving default")
    def comparison(self, run: EvaluationRun):
        return gate_table(run)

    @admin.display(description="gate (evaluated vs serving default)")
    def gate(self, run: EvaluationRun) -> str:
        return gate_summary(run)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="split")
    def split(self, run: EvaluationRun) -> str:
        if run.protocol.get("split") == "holdout_last":
            return f"last {run.protocol.get('holdout_last')}"
        return f"cutoff {run.protocol.get('cutoff', '')}"

    @admin.display(description="users")
    def users(self, run: EvaluationRun) -> int | None:
        return run.protocol.get("users_evaluated")

    @admin.display(description="NDCG@K")
    def ndcg_by_strategy(self, run: EvaluationRun) -> str:
        return _metric_summary(run, "ndcg")

    @admin.display(description="Recall@K")
    def recall_by_strategy(self, run: EvaluationRun) -> str:
        return _metric_summary(run, "recall")


def _metric_summary(run: EvaluationRun, metric: str) -> str:
    """`name value` per strategy for the metric at the run's K, e.g. `fused 0.0786`."""
    key = f"{metric}@{run.protocol.get('k', 10)}"
    return ", ".join(
        f"{name} {values[key]:.4f}"
        for name, values in run.strategies.items()
        if isinstance(values, dict) and key in values
    )


@admin.register(RankerModel)
class RankerModelAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "version",
        "feature_set",
        "is_active",
        "validation_ndcg",
        "fused_ndcg",
        "top_features",
        "created_at",
    )
    list_filter = ("name", "feature_set", "is_active")
    exclude = ("artifact",)
    readonly_fields = (
        "name",
        "version",
        "feature_set",
        "feature_names",
        "params",
        "data_windows",
        "validation_metrics",
        "feature_importance",
        "training_seconds",
        "device",
        "is_active",
        "created_at",
    )
    actions = ["activate", "activate_forced"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.display(description="held-out NDCG@10")
    def validation_ndcg(self, ranker: RankerModel) -> str:
        value = ranker.validation_metrics.get("ndcg@10")
        return "" if value is None else f"{value:.4f}"

    @admin.display(description="fused NDCG@10")
    def fused_ndcg(self, ranker: RankerModel) -> str:
        value = ranker.validation_metrics.get("fused_ndcg@10")
        return "" if value is None else f"{value:.4f}"

    @admin.display(description="top features (gain)")
    def top_features(self, ranker: RankerModel) -> str:
        return ", ".join(name for name, _ in importance_top(importance=ranker.feature_importance, n=3))

    @admin.action(description="Activate if it beats the fused order (the active version of its name stops)")
    def activate(self, request, queryset) -> None:
        self._activate(request, queryset, force=False)

    @admin.action(description="Activate even below the fused order (forced)")
    def activate_forced(self, request, queryset) -> None:
        self._activate(request, queryset, force=True)

    def _activate(self, request, queryset, *, force: bool) -> None:
        names = list(queryset.values_list("name", flat=True))
        if len(set(names)) != len(names):
            self.message_user(request, "Pick at most one version per ranker name.", messages.ERROR)
            return
        activated = 0
        for ranker in queryset:
            try:
                ranker_activate(ranker_id=ranker.pk, force=force)
            except RankerGateError as exc:
                self.message_user(request, str(exc), messages.ERROR)
                continue
            activated += 1
            _, words = ranker_gate(validation_metrics=ranker.validation_metrics)
            self.message_user(request, f"Activated {ranker.name} v{ranker.version}: {words}.", messages.SUCCESS)
        if not activated:
            self.message_user(request, "No ranker version was activated.", messages.WARNING)


@admin.register(CollaborativeModel)
class CollaborativeModelAdmin(admin.ModelAdmin):
    """Versions of the collaborative route; the active one serves (`Strategy.routes["cf"]`)."""

    list_display = (
        "version",
        "algorithm",
        "is_active",
        "items",
        "neighbor_rows",
        "training_seconds",
        "created_at",
    )
    list_filter = ("algorithm", "is_active")
    readonly_fields = (
        "version",
        "algorithm",
        "params",
        "events",
        "customers",
        "items",
        "neighbor_rows",
        "training_seconds",
        "device",
        "is_active",
        "created_at",
    )
    actions = ["activate"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Serve this version (the active one stops)")
    def activate(self, request, queryset) -> None:
        if queryset.count() != 1:
            self.message_user(request, "Pick exactly one version.", messages.ERROR)
            return
        model = collaborative_activate(model_id=queryset.get().pk)
        self.message_user(request, f"Serving {model}.", messages.SUCCESS)


@admin.register(EmbeddingAdaptation)
class EmbeddingAdaptationAdmin(admin.ModelAdmin):
    """Fine-tuned sentence model versions (read-only: `manage.py adapt_embeddings` makes them)."""

    list_display = ("version", "base_model", "pairs", "steps", "first_loss", "last_loss", "training_seconds", "device")
    readonly_fields = list_display + ("path", "created_at")

    def has_add_permission(self, request) -> bool:
        return False
