"""Prompt templates, their versions, the generation cache, the prompt pool's serving log and the
fine-tuned adapters of the local reason model."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from placements.public import Placement
from recommendations.reasons.backends import ServedAdapter


class Purpose(models.TextChoices):
    REASON = "reason", "reason (why this item)"
    RERANK = "rerank", "rerank (order the top candidates)"


class PromptTemplate(models.Model):
    """An operator-editable prompt. Its text lives in versions; `active_version` is the one served.

    Several active reason templates on one placement form a prompt pool: each request picks one by
    Thompson sampling on the clicks it earned (`impressions`, `clicks`, refreshed by a task).
    """

    name = models.SlugField(max_length=100, unique=True)
    purpose = models.CharField(max_length=10, choices=Purpose.choices, default=Purpose.REASON)
    placement = models.CharField(max_length=20, default=Placement.HOME_FEED, help_text="Where its reasons are served.")
    is_active = models.BooleanField(default=True, help_text="Served (in its placement's pool).")
    active_version = models.ForeignKey(
        "PromptTemplateVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    impressions = models.PositiveBigIntegerField(default=0, editable=False)
    clicks = models.PositiveBigIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["purpose", "name"]

    def __str__(self) -> str:
        return self.name


class PromptTemplateVersion(models.Model):
    """One saved text of a template (never edited: a change is a new version).

    A new version is a draft (`published_at` empty): previewed, never served. Publishing it makes
    it the template's `active_version`; only published versions are served or rolled back to.
    """

    template = models.ForeignKey(PromptTemplate, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    # The prompt sent to a language model (Django template language).
    body = models.TextField()
    # What the grounded backend writes (Django template language); true by construction.
    grounded = models.TextField(blank=True, default="")
    note = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True, help_text="Empty: a draft, never served.")
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["template", "-version"]
        constraints = [models.UniqueConstraint(fields=["template", "version"], name="prompt_version_unique")]

    def __str__(self) -> str:
        return f"{self.template.name} v{self.version}"

    @property
    def is_draft(self) -> bool:
        return self.published_at is None


class Generation(models.Model):
    """A cached model output for one cache key (template version, item, basis route and seed,
    backend and model), with what the guardrails said about it."""

    key = models.CharField(max_length=64, unique=True)
    purpose = models.CharField(max_length=10, choices=Purpose.choices)
    template_version = models.ForeignKey(PromptTemplateVersion, on_delete=models.CASCADE, related_name="+")
    product = models.ForeignKey("catalog.Product", null=True, on_delete=models.CASCADE, related_name="+")
    route = models.CharField(max_length=20, blank=True, default="")
    seed = models.ForeignKey("catalog.Product", null=True, on_delete=models.CASCADE, related_name="+")
    backend = models.CharField(max_length=20)
    model = models.CharField(max_length=200, blank=True, default="")
    prompt = models.TextField()
    output = models.TextField(help_text="What the model wrote.")
    # The text served: the output when accepted, the grounded reason when not (rerank: the order).
    text = models.TextField()
    accepted = models.BooleanField()
    guardrail = models.CharField(max_length=40, blank=True, default="", help_text="Failed check, if any.")
    latency_ms = models.FloatField(default=0.0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["accepted", "created_at"], name="generation_accepted_idx")]

    def __str__(self) -> str:
        return f"{self.backend}:{self.key[:12]}"


class ReasonServing(models.Model):
    """Which pool template wrote the reasons of one served list (the pool's impressions; clicks
    are events carrying the same recommendation_id)."""

    recommendation_id = models.UUIDField(unique=True)
    template = models.ForeignKey(PromptTemplate, on_delete=models.CASCADE, related_name="servings", db_index=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["template", "created_at"], name="reasonserving_template_idx")]

    def __str__(self) -> str:
        return str(self.recommendation_id)


class AdapterState(models.TextChoices):
    TRAINED = "trained", "trained, not checked"
    PASSED = "passed", "check passed"
    FAILED = "failed", "check failed"
    ACTIVE = "active", "active (served)"
    RETIRED = "retired", "retired (served before)"


class ReasonAdapter(models.Model):
    """One version of a LoRA adapter of the local reason model (`recommendations.reasons.adapters`):
    its training report, its offline check against the base model, and whether it is served.

    At most one version is active; the `transformers` backend then serves base + that adapter and
    labels its reasons `<base>+adapter@v<version>`.
    """

    version = models.PositiveIntegerField(unique=True)
    base_model = models.CharField(max_length=500)
    path = models.CharField(max_length=1000, help_text="The adapter's directory (peft `save_pretrained`).")
    state = models.CharField(max_length=10, choices=AdapterState.choices, default=AdapterState.TRAINED)
    # The training report.
    examples = models.PositiveIntegerField(default=0)
    heldout_examples = models.PositiveIntegerField(default=0)
    steps = models.PositiveIntegerField(default=0)
    first_loss = models.FloatField(default=0.0)
    last_loss = models.FloatField(default=0.0)
    training_seconds = models.FloatField(default=0.0)
    device = models.CharField(max_length=16, default="cpu")
    # The offline check (`adapter_check`): held-out loss per target token and the guardrails' pass
    # rate on the check prompts, base model and adapter on the same examples; null until checked.
    base_loss = models.FloatField(null=True, blank=True)
    adapter_loss = models.FloatField(null=True, blank=True)
    base_pass_rate = models.FloatField(null=True, blank=True)
    adapter_pass_rate = models.FloatField(null=True, blank=True)
    check_prompts = models.PositiveIntegerField(default=0)
    check_floor = models.FloatField(null=True, blank=True, help_text="The pass-rate floor the check applied.")
    checked_at = models.DateTimeField(null=True, blank=True)
    trained_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    activated_at = models.DateTimeField(null=True, blank=True)
    # The version that was active when this one was activated: a rollback serves it again.
    replaced = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    activated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["state"], condition=models.Q(state="active"), name="reasonadapter_one_active"
            ),
        ]
        permissions = [("force_activate_reasonadapter", "Can activate a reason adapter that failed its check")]

    def __str__(self) -> str:
        return f"reason adapter v{self.version}{' (active)' if self.state == AdapterState.ACTIVE else ''}"

    def served(self) -> ServedAdapter:
        return ServedAdapter(version=self.version, base_model=self.base_model, path=self.path)
