"""An expensive admin action (a model preview, a dry run over many lists) run on a worker: who asked,
what, and how it ended. The row is the job's state; Celery only carries it to a worker."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class JobKind(models.TextChoices):
    PROMPT_PREVIEW = "prompt_preview", "prompt template preview"
    PLACEMENT_PREVIEW = "placement_preview", "recommendation preview"
    RULE_DRY_RUN = "rule_dry_run", "merchandising rule dry run"
    ADAPTER_TRAIN = "adapter_train", "reason adapter training and check"
    ADAPTER_CHECK = "adapter_check", "reason adapter offline check"


class JobState(models.TextChoices):
    QUEUED = "queued", "queued"
    RUNNING = "running", "running"
    DONE = "done", "done"
    FAILED = "failed", "failed"
    TIMED_OUT = "timed_out", "timed out"


class AdminJob(models.Model):
    # Not guessable: the id is in the page's URL, and only its user may read it anyway.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20, choices=JobKind.choices)
    params = models.JSONField()
    state = models.CharField(max_length=10, choices=JobState.choices, default=JobState.QUEUED)
    # The limits it was given (seconds): a page tells a job killed at the hard limit, or never
    # started, from one still running by these.
    time_limit_s = models.PositiveIntegerField()
    queue_wait_s = models.PositiveIntegerField()
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "state"], name="adminjob_user_state")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.created_at:%Y-%m-%d %H:%M:%S} ({self.state})"
