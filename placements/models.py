"""Placements as data: each placement's default strategy, versioned.

A change is a new version (who, when, why); the highest version of a placement serves. A rollback
is a new version too, carrying an older version's strategy, so the history only grows and always
reads in the order things happened.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from placements.placement import Placement


class DefaultStrategy(models.Model):
    placement = models.CharField(max_length=20, choices=Placement.choices)
    version = models.PositiveIntegerField(editable=False)
    config = models.JSONField(help_text="The strategy's JSON form (routes, ranker, rules, reasons, llm_rerank, k).")
    note = models.TextField(blank=True, default="", help_text="Why this change (shown in the history).")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, editable=False, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["placement", "-version"]
        verbose_name = "default strategy version"
        constraints = [
            models.UniqueConstraint(fields=["placement", "version"], name="default_strategy_placement_version_unique")
        ]

    def __str__(self) -> str:
        return f"{self.placement} v{self.version}"
