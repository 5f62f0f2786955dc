"""Placements as data: each placement's default strategy, versioned.

A change is a new version (who, when, why); the highest version of a placement serves. A rollback
is a new version too, carrying an older version's strategy, so the history only grows and always
reads in the order things happened. A new version may roll out gradually: it serves `share` percent
of customers (a stable hash decides which) while the newest fully rolled-out version serves the
rest; every change of the share is a `RolloutStep`.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models

from placements.placement import Placement


class DefaultStrategy(models.Model):
    placement = models.CharField(max_length=20, choices=Placement.choices)
    version = models.PositiveIntegerField(editable=False)
    config = models.JSONField(help_text="The strategy's JSON form (routes, ranker, rules, reasons, llm_rerank, k).")
    note = models.TextField(blank=True, default="", help_text="Why this change (shown in the history).")
    share = models.PositiveSmallIntegerField(
        default=100,
        validators=[MaxValueValidator(100)],
        help_text="Percent of customers this version serves; below 100 it rolls out gradually and the "
        "previous fully rolled-out version serves the others.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, editable=False, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["placement", "-version"]
        verbose_name = "default strategy version"
        constraints = [
            models.UniqueConstraint(fields=["placement", "version"], name="default_strategy_placement_version_unique"),
            models.CheckConstraint(condition=models.Q(share__lte=100), name="default_strategy_share_percent"),
        ]

    def __str__(self) -> str:
        return f"{self.placement} v{self.version}"


class RolloutStep(models.Model):
    """One change of a version's rollout share: the rollout's history."""

    version = models.ForeignKey(DefaultStrategy, on_delete=models.CASCADE, related_name="rollout_steps")
    share = models.PositiveSmallIntegerField(validators=[MaxValueValidator(100)])
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [models.CheckConstraint(condition=models.Q(share__lte=100), name="rollout_step_share_percent")]

    def __str__(self) -> str:
        return f"{self.version} at {self.share}%"
