"""Stored results of the recommendation engine's offline work."""

from django.db import models

# Admin jobs, bad cases and reasons keep their models in their own packages; Django finds them through this module.
from recommendations.adminjobs.models import AdminJob  # noqa: F401
from recommendations.badcases.models import BadCase, BadCaseResolution, BadCaseSource, BadCaseStatus  # noqa: F401
from recommendations.reasons.models import (  # noqa: F401
    Generation,
    PromptTemplate,
    PromptTemplateVersion,
    ReasonAdapter,
    ReasonServing,
)
from recommendations.shadow.models import ShadowList, ShadowStrategy  # noqa: F401


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
    the active one (`recommendations.ranking.stage`).
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


class CollaborativeModel(models.Model):
    """One fitted version of the collaborative route (EASE or ALS item-to-item weights).

    Versions count up; at most one is active, and serving reads the active version's neighbours
    (`recommendations.recall.collaborative`).
    """

    version = models.PositiveIntegerField(unique=True)
    algorithm = models.CharField(max_length=16)
    params = models.JSONField(default=dict)
    events = models.PositiveIntegerField(default=0)
    customers = models.PositiveIntegerField(default=0)
    items = models.PositiveIntegerField(default=0)
    neighbor_rows = models.PositiveIntegerField(default=0)
    training_seconds = models.FloatField(default=0.0)
    device = models.CharField(max_length=16, default="cpu")
    is_active = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(fields=["is_active"], condition=models.Q(is_active=True), name="cf_one_active"),
        ]

    def __str__(self) -> str:
        return f"collaborative v{self.version} ({self.algorithm}){' (active)' if self.is_active else ''}"


class CollaborativeNeighbor(models.Model):
    """One neighbour of one product in one collaborative model version (written once by COPY)."""

    # No database constraints on its foreign keys, as on every neighbour table (catalog.ItemNeighbor).
    model = models.ForeignKey(
        CollaborativeModel, on_delete=models.CASCADE, related_name="neighbors", db_constraint=False
    )
    product = models.ForeignKey("catalog.Product", on_delete=models.CASCADE, related_name="+", db_constraint=False)
    neighbor = models.ForeignKey("catalog.Product", on_delete=models.CASCADE, related_name="+", db_constraint=False)
    score = models.FloatField()
    rank = models.PositiveIntegerField()

    class Meta:
        indexes = [models.Index(fields=["model", "product", "rank"])]

    def __str__(self) -> str:
        return f"v{self.model_id}: {self.product_id} → {self.neighbor_id} ({self.score:.4f})"


class CoPurchaseNeighbor(models.Model):
    """One product bought in the same basket as another (an anonymous session's or a customer's
    purchases of one UTC day), with its association score; the table is replaced whole by each
    rebuild (`recommendations.recall.copurchase`)."""

    # No database constraints on its foreign keys, as on every neighbour table (catalog.ItemNeighbor).
    product = models.ForeignKey("catalog.Product", on_delete=models.CASCADE, related_name="+", db_constraint=False)
    neighbor = models.ForeignKey("catalog.Product", on_delete=models.CASCADE, related_name="+", db_constraint=False)
    score = models.FloatField()
    rank = models.PositiveIntegerField()

    class Meta:
        indexes = [models.Index(fields=["product", "rank"])]

    def __str__(self) -> str:
        return f"{self.product_id} → {self.neighbor_id} ({self.score:.4f})"


class EmbeddingAdaptation(models.Model):
    """One version of the sentence model fine-tuned on the shop's co-occurrence pairs
    (`recommendations.embeddings.adaptation`). Served by pointing `EMBEDDING_MODEL` at `path`."""

    version = models.PositiveIntegerField(unique=True)
    base_model = models.CharField(max_length=500)
    path = models.CharField(max_length=1000)
    pairs = models.PositiveIntegerField(default=0)
    steps = models.PositiveIntegerField(default=0)
    first_loss = models.FloatField(default=0.0)
    last_loss = models.FloatField(default=0.0)
    training_seconds = models.FloatField(default=0.0)
    device = models.CharField(max_length=16, default="cpu")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-version"]

    def __str__(self) -> str:
        return f"adapted sentence model v{self.version} ({self.pairs} pairs)"


class RuleKind(models.TextChoices):
    PIN = "pin", "pin an item at a position"
    BOOST = "boost", "boost (score × multiplier > 1)"
    BURY = "bury", "bury (score × multiplier < 1)"
    EXCLUDE = "exclude", "exclude"
    CATEGORY_CAP = "category_cap", "at most N per category in the top k"
    MMR = "mmr", "MMR diversity re-ordering"


class MerchRule(models.Model):
    """A merchandising rule applied after ranking (see recommendations.rules.apply for the order).

    Targets (category subtree, brand, attribute value, item list) select the items a boost, bury
    or exclude touches; all given targets must match. Scope (placement, category context, customer
    segment, date range) selects the requests it applies to; an empty scope field means any.
    """

    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=RuleKind.choices)
    is_active = models.BooleanField(default=True)
    # Scope: which requests.
    placement = models.CharField(
        max_length=20, blank=True, default="", help_text="home_feed, similar_items or search; empty: every placement."
    )
    context_category = models.ForeignKey(
        "catalog.Category",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="Only for requests filtered to this category (or below it).",
    )
    segment_key = models.CharField(max_length=100, blank=True, default="", help_text="Customer attribute name.")
    segment_value = models.CharField(max_length=200, blank=True, default="", help_text="…and the value it must have.")
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    # Targets: which items.
    product = models.ForeignKey(
        "catalog.Product", null=True, blank=True, on_delete=models.CASCADE, related_name="+", help_text="Pin: the item."
    )
    position = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Pin: 1-based position.")
    target_category = models.ForeignKey(
        "catalog.Category", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    target_brand = models.CharField(max_length=200, blank=True, default="")
    target_attribute = models.CharField(max_length=100, blank=True, default="", help_text="Attribute name.")
    target_attribute_value = models.CharField(max_length=200, blank=True, default="")
    item_ids = models.TextField(blank=True, default="", help_text="Product ids, separated by commas or new lines.")
    # Parameters.
    multiplier = models.FloatField(null=True, blank=True, help_text="Boost (> 1) or bury (< 1): score × this.")
    max_per_category = models.PositiveSmallIntegerField(null=True, blank=True)
    top_k = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Category cap / MMR: the top k.")
    mmr_lambda = models.FloatField(
        null=True, blank=True, help_text="MMR: 1 = relevance only, 0 = diversity only (e.g. 0.7)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind", "name"]
        indexes = [models.Index(fields=["is_active", "kind"], name="merchrule_active_kind_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display().split(' ')[0]} #{self.pk}: {self.name}"

    def item_id_list(self) -> tuple[str, ...]:
        return tuple(part.strip() for part in self.item_ids.replace("\n", ",").split(",") if part.strip())


class HiddenItem(models.Model):
    """An item never recommended to one customer again ("not interested", or an operator's fix)."""

    customer_external_id = models.CharField(max_length=128)
    product_external_id = models.CharField(max_length=128)
    source = models.CharField(max_length=32, default="feedback")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["customer_external_id", "product_external_id"], name="hidden_item_unique")
        ]

    def __str__(self) -> str:
        return f"{self.product_external_id} hidden for {self.customer_external_id}"


class ServedList(models.Model):
    """A compact record of one served list, so feedback arriving later (by recommendation_id) and
    the detectors can see exactly what was served and why. Written after the response; pruned
    after `SERVED_LIST_RETENTION_DAYS` (see recommendations.served)."""

    recommendation_id = models.UUIDField(primary_key=True)
    created_at = models.DateTimeField(db_index=True)
    placement = models.CharField(max_length=20)
    customer_external_id = models.CharField(max_length=128, blank=True, default="")
    # The anonymous session asked about, if any: what `exclude_served` leaves out is read by it
    # (recommendations.served.session_served_pks); erasing the customer the session is linked to
    # erases these lists too.
    session_id = models.CharField(max_length=128, blank=True, default="")
    strategy = models.CharField(max_length=200, blank=True, default="")
    ranker = models.CharField(max_length=200, blank=True, default="")
    experiment = models.CharField(max_length=100, blank=True, default="")
    variant = models.CharField(max_length=50, blank=True, default="")
    # The request: k, category, exclude, product (similar items), query (search).
    context = models.JSONField(default=dict)
    # [{"id", "position", "score", "ranked_score", "routes", "rules"}, …] in served order; an
    # interleaved list's items also hold "team" (the variant that contributed the item).
    items = models.JSONField(default=list)
    detected = models.BooleanField(default=False, help_text="Seen by the bad-case detectors.")

    class Meta:
        indexes = [
            models.Index(fields=["created_at"], condition=models.Q(detected=False), name="servedlist_undetected_idx"),
            models.Index(
                fields=["session_id", "-created_at"], condition=~models.Q(session_id=""), name="servedlist_session_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.recommendation_id} ({self.placement})"
