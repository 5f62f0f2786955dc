"""Experiments (A/B tests): experiments and their variants, the exposures served under them, and
daily snapshots of the per-variant metrics the dashboards read."""

from __future__ import annotations

import secrets

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from placements.public import Placement


class Status(models.TextChoices):
    DRAFT = "draft"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"


class Kind(models.TextChoices):
    AB = "ab", "A/B test (each customer sees one variant)"
    INTERLEAVING = "interleaving", "interleaving (each list merges the two variants' lists, team-draft)"


class Metric(models.TextChoices):
    CTR = "ctr", "click-through rate (clicks / exposures)"
    ADD_TO_CART_RATE = "add_to_cart_rate", "add-to-cart rate (share of exposed customers)"
    CONVERSION_RATE = "conversion_rate", "conversion rate (share of exposed customers)"
    REVENUE_PER_CUSTOMER = "revenue_per_customer", "revenue per exposed customer"


def new_salt() -> str:
    return secrets.token_hex(8)


def guardrail_metrics_validate(value: object) -> None:
    """A list of Metric names; an unknown one is refused (the guardrail could never be computed)."""
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise ValidationError("Guardrail metrics are a list of metric names.")
    unknown = [name for name in value if name not in Metric.values]
    if unknown:
        raise ValidationError(
            f"Unknown guardrail metric(s): {', '.join(unknown)}; choose from {', '.join(Metric.values)}."
        )


class Layer(models.Model):
    """A group of mutually exclusive experiments, with a holdout that always gets the default."""

    key = models.SlugField(max_length=50, unique=True)
    holdout_share = models.FloatField(
        default=0.0,
        help_text="Share of the layer's customers kept out of every experiment (they get the placement's "
        "default), in [0, 0.5]. Fixed while an experiment of the layer is launched.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["key"]
        constraints = [
            models.CheckConstraint(
                condition=Q(holdout_share__gte=0) & Q(holdout_share__lte=0.5), name="layer_holdout_share_range"
            )
        ]

    def __str__(self) -> str:
        return self.key


class Experiment(models.Model):
    """One question asked of live traffic on one placement.

    Experiments run in layers: those of one layer never share a customer (each owns a slice of the
    layer's traffic, fixed at launch), and a placement's launched experiments are all in one layer,
    so two experiments never compete for the same request and every exposure belongs to exactly
    one variant.
    """

    key = models.SlugField(max_length=100, unique=True, help_text="Stable id; part of the assignment hash.")
    hypothesis = models.TextField(blank=True, default="")
    placement = models.CharField(max_length=20, choices=Placement.choices)
    kind = models.CharField(
        max_length=12,
        choices=Kind.choices,
        default=Kind.AB,
        help_text="A/B: customers split between the variants by weight. Interleaving: exactly two variants; "
        "every customer in the experiment gets one list merged from both (team-draft), and each click is "
        "credited to the variant that contributed the item (weights, metrics and guardrails do not apply).",
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DRAFT, editable=False)
    traffic_share = models.FloatField(
        default=1.0, help_text="Share of the layer's customers (outside its holdout) in the experiment, in (0, 1]."
    )
    layer = models.SlugField(
        max_length=50,
        blank=True,
        default="",
        help_text="Experiments of one layer never share a customer; one placement's experiments share a layer. "
        "Empty: the placement's own layer (named after it); name a layer to keep experiments on several "
        "placements apart.",
    )
    # The slice of the layer's [0, 1) this experiment owns, set at its first launch; None for an
    # experiment launched before layers (it keeps its own traffic hash).
    layer_start = models.FloatField(null=True, blank=True, editable=False)
    layer_end = models.FloatField(null=True, blank=True, editable=False)
    salt = models.CharField(
        max_length=64, default=new_salt, help_text="Part of the assignment hash; a new salt reshuffles customers."
    )
    primary_metric = models.CharField(max_length=32, choices=Metric.choices, default=Metric.CTR)
    guardrail_metrics = models.JSONField(
        default=list,
        blank=True,
        validators=[guardrail_metrics_validate],
        help_text="Metrics watched for harm: a treatment significantly worse on one is a breach.",
    )
    guardrail_stop = models.BooleanField(
        "stop on breach",
        default=False,
        help_text="Pause the experiment when a guardrail is breached (otherwise the breach is only shown).",
    )
    # The breach that marked the experiment, written by the snapshot task (experiments.breaches):
    # {"detected_at", "as_of", "paused", "breaches": [{"metric", "variant", "effect", …}]}.
    guardrail_breach = models.JSONField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True, editable=False)
    stopped_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Health as of the latest snapshot, written by the snapshot task (the list shows it cheaply).
    exposed_customers = models.PositiveIntegerField(default=0, editable=False)
    srm_p_value = models.FloatField(null=True, blank=True, editable=False)
    results_as_of = models.DateField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(traffic_share__gt=0) & Q(traffic_share__lte=1), name="experiment_traffic_share_range"
            ),
        ]

    def __str__(self) -> str:
        return self.key

    @property
    def layer_key(self) -> str:
        """The layer it runs in: the named one, else its placement's own."""
        return self.layer or self.placement


class Variant(models.Model):
    """One arm: a weight in the split and a strategy (its JSON form: placements.strategy)."""

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="variants")
    key = models.SlugField(max_length=50)
    is_control = models.BooleanField(default=False, help_text="The arm every other arm is compared with.")
    weight = models.FloatField(default=1.0, help_text="Relative share of the experiment's traffic.")
    config = models.JSONField(default=dict, help_text="Strategy: routes and weights, candidates_per_route, k, …")

    class Meta:
        ordering = ["experiment", "-is_control", "key"]
        constraints = [
            models.UniqueConstraint(fields=["experiment", "key"], name="variant_key_unique"),
            models.UniqueConstraint(fields=["experiment"], condition=Q(is_control=True), name="one_control_variant"),
            models.CheckConstraint(condition=Q(weight__gt=0), name="variant_weight_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.experiment.key}/{self.key}" if self.experiment_id else self.key


class Exposure(models.Model):
    """One list served to a customer in an experiment; events carrying its recommendation_id are
    attributed to it (catalog.Event ⨝ Exposure on recommendation_id, no copy)."""

    recommendation_id = models.UUIDField(unique=True)
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="exposures", db_index=False)
    # Null for an interleaved list: it belongs to both variants, and each item names its team.
    variant = models.ForeignKey(
        Variant, on_delete=models.CASCADE, related_name="exposures", db_index=False, null=True, blank=True
    )
    customer_external_id = models.CharField(max_length=128)
    placement = models.CharField(max_length=20, choices=Placement.choices)
    # [{"id": product external id, "position": 1-based}, …] in served order; an interleaved list's
    # items also hold "team": the key of the variant that contributed the item.
    items = models.JSONField(default=list)
    created_at = models.DateTimeField()

    class Meta:
        # The metrics read one experiment's exposures, per customer, up to a time.
        indexes = [models.Index(fields=["experiment", "created_at"], name="exposure_experiment_time_idx")]

    def __str__(self) -> str:
        return f"{self.recommendation_id} ({self.variant_id})"


class VariantDailySnapshot(models.Model):
    """Per-customer sufficient statistics of one variant, cumulative from the start to the end
    of `day` (UTC). Sums of squares and cross-products let the dashboard compute means,
    variances and delta-method ratios without reading a single exposure row."""

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="snapshots")
    variant = models.ForeignKey(Variant, on_delete=models.CASCADE, related_name="snapshots", db_index=False)
    day = models.DateField()
    customers = models.PositiveIntegerField()
    exposures = models.PositiveBigIntegerField()
    exposures_sq = models.FloatField()
    clicks = models.PositiveBigIntegerField()
    clicks_sq = models.FloatField()
    clicks_x_exposures = models.FloatField()
    clickers = models.PositiveIntegerField()
    add_to_carters = models.PositiveIntegerField()
    purchasers = models.PositiveIntegerField()
    revenue = models.FloatField()
    revenue_sq = models.FloatField()
    # CUPED covariate (each customer's pre-period activity) and its cross-products.
    pre_activity = models.FloatField(default=0.0)
    pre_activity_sq = models.FloatField(default=0.0)
    pre_x_add_to_carters = models.FloatField(default=0.0)
    pre_x_purchasers = models.FloatField(default=0.0)
    pre_x_revenue = models.FloatField(default=0.0)
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["experiment", "day", "variant"]
        constraints = [models.UniqueConstraint(fields=["variant", "day"], name="variant_snapshot_day_unique")]

    def __str__(self) -> str:
        return f"{self.variant_id} @ {self.day}"
