"""A placement's shadow strategy and the lists it made."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from placements.public import Placement


class ShadowStrategy(models.Model):
    placement = models.CharField(max_length=20, choices=Placement.choices)
    config = models.JSONField(help_text="The strategy in its JSON form, as a default strategy or a variant.")
    sample_share = models.FloatField(
        default=0.1, help_text="Share of the placement's served lists it scores too, in (0, 1]: its cost bound."
    )
    is_active = models.BooleanField(default=True)
    note = models.TextField(blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, editable=False, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "shadow strategies"
        constraints = [
            models.UniqueConstraint(fields=["placement"], condition=Q(is_active=True), name="one_active_shadow"),
            models.CheckConstraint(
                condition=Q(sample_share__gt=0) & Q(sample_share__lte=1), name="shadow_sample_share_range"
            ),
        ]

    def __str__(self) -> str:
        return f"shadow #{self.pk} on {self.placement}"


class ShadowList(models.Model):
    """One served list and the shadow's list for the same request, compared."""

    shadow = models.ForeignKey(ShadowStrategy, on_delete=models.CASCADE, related_name="lists")
    recommendation_id = models.UUIDField(db_index=True, help_text="The served list's id.")
    created_at = models.DateTimeField(auto_now_add=True)
    served = models.JSONField(default=list, help_text="Product ids served, in order.")
    shadow_items = models.JSONField(default=list, help_text="Product ids the shadow would have served.")
    overlap_at_k = models.FloatField()
    # Kendall's tau of the items both lists hold (None with fewer than two in common).
    rank_correlation = models.FloatField(null=True, blank=True)
    # Each served item's position in the shadow list (None: the shadow did not have it).
    served_positions = models.JSONField(default=list)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["shadow", "recommendation_id"], name="one_shadow_list")]

    def __str__(self) -> str:
        return f"{self.shadow} for {self.recommendation_id}"
