"""Monitoring: drift references and the drift history, daily quality per placement.

All derived data, written by periodic tasks (monitoring.tasks) and read by the admin and by
`/metrics` (recsite.metrics_export).
"""

from __future__ import annotations

from django.db import models


class Signal(models.TextChoices):
    CUSTOMER_ITEM = "customer_item_similarity", "customer-to-item similarity"
    NEW_ITEM = "new_item_similarity", "new item to catalog similarity"
    MEAN_EMBEDDING = "mean_embedding_similarity", "similarity to the reference mean embedding"


class DriftReference(models.Model):
    """Samples of each signal from a reference window, and the window's mean item embedding.

    The newest reference is the one checks compare against.
    """

    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField()
    model_name = models.CharField(max_length=300, help_text="The embedding model the samples were computed with.")
    # signal -> sorted sample of its values
    samples = models.JSONField(default=dict)
    mean_embedding = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"reference up to {self.window_end:%Y-%m-%d} ({self.model_name})"


class DriftReport(models.Model):
    """One signal of one window compared with a reference."""

    reference = models.ForeignKey(DriftReference, on_delete=models.CASCADE, related_name="reports")
    signal = models.CharField(max_length=40, choices=Signal.choices)
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    model_name = models.CharField(max_length=300)
    psi = models.FloatField()
    ks_statistic = models.FloatField()
    ks_p_value = models.FloatField()
    n_reference = models.PositiveIntegerField()
    n_current = models.PositiveIntegerField()
    # 1 − cos(reference mean embedding, current mean embedding); mean-embedding signal only.
    mean_shift = models.FloatField(null=True, blank=True)
    threshold = models.FloatField(help_text="PSI above this raises the alert.")
    alert = models.BooleanField(default=False)
    computed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-computed_at", "signal"]
        indexes = [models.Index(fields=["signal", "-computed_at"], name="drift_report_signal_time_idx")]

    def __str__(self) -> str:
        return f"{self.signal} {self.window_end:%Y-%m-%d}: PSI {self.psi:.3f}"


class PlacementDailyQuality(models.Model):
    """Exposures, clicks and bad cases of one placement on one UTC day."""

    day = models.DateField()
    placement = models.CharField(max_length=20)
    exposures = models.PositiveIntegerField()
    clicks = models.PositiveIntegerField()
    bad_cases = models.PositiveIntegerField()
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-day", "placement"]
        verbose_name_plural = "placement daily quality"
        constraints = [models.UniqueConstraint(fields=["day", "placement"], name="placement_quality_day_unique")]

    def __str__(self) -> str:
        return f"{self.placement} @ {self.day}"

    @property
    def ctr(self) -> float:
        return self.clicks / self.exposures if self.exposures else 0.0

    @property
    def bad_case_rate(self) -> float:
        return self.bad_cases / self.exposures if self.exposures else 0.0
