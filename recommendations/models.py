"""Stored results of the recommendation engine's offline work."""

from django.db import models


class EvaluationRun(models.Model):
    """One `manage.py evaluate` run: its protocol and per-strategy metrics."""

    created_at = models.DateTimeField(auto_now_add=True)
    protocol = models.JSONField()
    strategies = models.JSONField()
    duration_s = models.FloatField(default=0.0)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"evaluation {self.created_at:%Y-%m-%d %H:%M} ({self.protocol.get('split', '')})"


class RankerModel(models.Model):
    """One trained version of a learned ranker (LightGBM LambdaMART), the model itself included.

    Versions count up per `name`; at most one version per name is active, and serving ranks with
    the active one (`recommendations.ranking.serving`).
    """

    name = models.CharField(max_length=100)
    version = models.PositiveIntegerField()
    feature_set = models.CharField(max_length=32)
    feature_names = models.JSONField(default=list)
    # LightGBM's own text format (`Booster.model_to_string`): a few hundred kB, no files to ship.
    artifact = models.TextField()
    params = models.JSONField(default=dict)
    # as_of, label_time, label window, customers and lists used.
    data_windows = models.JSONField(default=dict)
    validation_metrics = models.JSONField(default=dict)
    # feature name -> total gain, best first.
    feature_importance = models.JSONField(default=dict)
    training_seconds = models.FloatField(default=0.0)
    device = models.CharField(max_length=16, default="cpu")
    is_active = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="ranker_name_version_unique"),
            models.UniqueConstraint(
                fields=["name"], condition=models.Q(is_active=True), name="ranker_one_active_per_name"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}{' (active)' if self.is_active else ''}"


# Reasons keep their models in their own package; Django finds them through this module.
from recommendations.reasons.models import (  # noqa: E402, F401
    Generation,
    PromptTemplate,
    PromptTemplateVersion,
    ReasonServing,
)
