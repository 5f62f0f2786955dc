"""Bad cases: recommendations a customer or a detector flagged as wrong, with what was served,
and their review (status, assignee, resolution)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class BadCaseSource(models.TextChoices):
    FEEDBACK = "feedback", "customer feedback"
    OUT_OF_STOCK_SERVED = "out_of_stock_served", "out-of-stock item served"
    PURCHASED_SERVED = "purchased_served", "already-bought item served in the home feed"
    REASON_GUARDRAIL = "reason_guardrail", "generated reason failed a guardrail"
    LOW_RELEVANCE = "low_relevance", "top item below the relevance threshold"


class BadCaseStatus(models.TextChoices):
    NEW = "new"
    TRIAGED = "triaged"
    RESOLVED = "resolved"
    WONT_FIX = "wont_fix", "won't fix"


class BadCaseResolution(models.TextChoices):
    NONE = "", "-"
    HIDDEN_FOR_CUSTOMER = "hidden_for_customer", "item hidden for that customer"
    EXCLUDE_RULE = "exclude_rule", "exclude rule created"
    TEMPLATE = "template", "prompt template edited"
    OTHER = "other", "other (see notes)"


class BadCase(models.Model):
    """A recommendation someone (a customer, a detector) flagged as wrong, with what was served."""

    source = models.CharField(max_length=32, choices=BadCaseSource.choices)
    # Feedback reason code (not_interested, irrelevant, …) or the detector's own code.
    reason_code = models.CharField(max_length=32, blank=True, default="")
    text = models.TextField(blank=True, default="")
    recommendation_id = models.UUIDField(null=True, blank=True, db_index=True)
    customer_external_id = models.CharField(max_length=128, blank=True, default="")
    product_external_id = models.CharField(max_length=128, blank=True, default="")
    placement = models.CharField(max_length=20, blank=True, default="")
    # What was served and why (items, scores, variant, rules, reasons, model and template versions),
    # or the detector's evidence.
    snapshot = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=12, choices=BadCaseStatus.choices, default=BadCaseStatus.NEW)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="bad_cases"
    )
    notes = models.TextField(blank=True, default="")
    resolution = models.CharField(max_length=32, choices=BadCaseResolution.choices, blank=True, default="")
    # What the resolution made (e.g. "rule 12"), so the replay can tell which fix to credit.
    resolution_ref = models.CharField(max_length=100, blank=True, default="")
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "created_at"], name="badcase_status_time_idx")]

    def __str__(self) -> str:
        return f"{self.get_source_display()}: {self.product_external_id or '-'}"
