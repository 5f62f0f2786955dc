"""Admin for the reason model's fine-tuned adapters: the versions with their training report and
offline check; *Train a new version* and *Run the offline check* as jobs on a gpu worker (the page
answers at once and shows the job); activate (refused, with both models' numbers, when the check
did not pass, unless the user may force it) and roll back to the version the active one replaced."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.http import urlencode

from recommendations.admin.jobs import job_context, job_submit
from recommendations.adminjobs.models import JobKind
from recommendations.adminjobs.service import JobLimitReached
from recommendations.reasons.adapters import AdapterError, adapter_activate, adapter_rollback, adapter_verdict
from recommendations.reasons.backends import TRANSFORMERS
from recommendations.reasons.models import AdapterState, ReasonAdapter

MAX_STEPS = 10_000


class TrainForm(forms.Form):
    steps = forms.IntegerField(min_value=1, max_value=MAX_STEPS, initial=100, help_text="Optimizer steps.")
    limit = forms.IntegerField(
        min_value=2, required=False, help_text="At most this many examples (one per customer); empty: all."
    )


@admin.register(ReasonAdapter)
class ReasonAdapterAdmin(admin.ModelAdmin):
    list_display = (
        "version",
        "state",
        "examples",
        "heldout_loss",
        "pass_rate",
        "activated_at",
    )
    list_filter = ("state",)
    fieldsets = (
        (None, {"fields": ("version", "state", "base_model", "path", "created_at", "trained_by")}),
        (
            "Training",
            {
                "fields": (
                    "examples",
                    "heldout_examples",
                    "steps",
                    "first_loss",
                    "last_loss",
                    "training_seconds",
                    "device",
                )
            },
        ),
        (
            "Offline check against the base model (held-out customers)",
            {
                "fields": (
                    "verdict",
                    "base_loss",
                    "adapter_loss",
                    "base_pass_rate",
                    "adapter_pass_rate",
                    "check_prompts",
                    "check_floor",
                    "checked_at",
                )
            },
        ),
        ("Serving", {"fields": ("label", "activated_at", "activated_by", "replaced")}),
    )
    readonly_fields = [f.name for f in ReasonAdapter._meta.fields] + ["verdict", "label"]
    actions = ["run_check", "activate", "activate_forced", "rollback"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # versions come from training (the train page, or the command)

    def has_delete_permission(self, request: HttpRequest, obj: ReasonAdapter | None = None) -> bool:
        return False  # kept as the history a rollback walks back through

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        # The changelist's own context has no change permission (only add, which training replaces).
        extra_context = {**(extra_context or {}), "can_train": self.has_change_permission(request)}
        return super().changelist_view(request, extra_context)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        # Every field is read-only: nothing to save (the actions change the state).
        buttons = {"show_save": False, "show_save_and_continue": False, "show_save_and_add_another": False}
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **buttons})

    def has_force_activate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("recommendations.force_activate_reasonadapter")

    @admin.display(description="held-out loss base → adapter")
    def heldout_loss(self, adapter: ReasonAdapter) -> str:
        if adapter.base_loss is None or adapter.adapter_loss is None:
            return "—"
        return f"{adapter.base_loss:.4f} → {adapter.adapter_loss:.4f}"

    @admin.display(description="guardrail passes base → adapter")
    def pass_rate(self, adapter: ReasonAdapter) -> str:
        if adapter.base_pass_rate is None or adapter.adapter_pass_rate is None:
            return "—"
        return f"{adapter.base_pass_rate:.1%} → {adapter.adapter_pass_rate:.1%}"

    @admin.display(description="check")
    def verdict(self, adapter: ReasonAdapter) -> str:
        passed, words = adapter_verdict(adapter)
        return f"{'passed' if passed else 'not passed'}: {words}"

    @admin.display(description="its reasons record the model")
    def label(self, adapter: ReasonAdapter) -> str:
        return adapter.served().label

    @admin.action(permissions=["change"], description="Run the offline check again (a job on a gpu worker)")
    def run_check(self, request: HttpRequest, queryset: QuerySet[ReasonAdapter]) -> HttpResponse | None:
        if queryset.count() != 1:
            self.message_user(request, "Pick exactly one version.", messages.ERROR)
            return None
        adapter = queryset.get()
        try:
            job = self._submit(request, kind=JobKind.ADAPTER_CHECK, params={"adapter_id": adapter.pk})
        except JobLimitReached as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return None
        url = reverse("admin:reasons_adapter_check", args=[adapter.pk])
        return HttpResponseRedirect(f"{url}?{urlencode({'job': job.pk})}")

    @admin.action(permissions=["change"], description="Activate if it passed its check (the active version retires)")
    def activate(self, request: HttpRequest, queryset: QuerySet[ReasonAdapter]) -> None:
        self._activate(request, queryset, force=False)

    @admin.action(permissions=["force_activate"], description="Activate even if it did not pass its check (forced)")
    def activate_forced(self, request: HttpRequest, queryset: QuerySet[ReasonAdapter]) -> None:
        self._activate(request, queryset, force=True)

    def _activate(self, request: HttpRequest, queryset: QuerySet[ReasonAdapter], *, force: bool) -> None:
        if queryset.count() != 1:
            self.message_user(request, "Pick exactly one version: one is served at a time.", messages.ERROR)
            return
        try:
            adapter = adapter_activate(adapter_id=queryset.get().pk, user_id=request.user.pk, force=force)
        except AdapterError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        self.log_change(request, adapter, "Activated" + (" (forced)" if force else ""))
        _, words = adapter_verdict(adapter)
        self.message_user(
            request,
            f"Serving v{adapter.version} ({adapter.served().label}): {words}.{_backend_note()}",
            messages.SUCCESS,
        )

    @admin.action(permissions=["change"], description="Roll back: retire the active version, serve the one it replaced")
    def rollback(self, request: HttpRequest, queryset: QuerySet[ReasonAdapter]) -> None:
        # Acts on the active version whatever is selected: the selection only says "this one".
        if not queryset.filter(state=AdapterState.ACTIVE).exists():
            self.message_user(request, "Select the active version to roll it back.", messages.ERROR)
            return
        try:
            retired, served = adapter_rollback(user_id=request.user.pk)
        except AdapterError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        self.log_change(request, retired, "Rolled back")
        now = f"v{served.version} ({served.served().label})" if served else "the base model alone"
        self.message_user(request, f"Retired v{retired.version}; serving {now}.", messages.SUCCESS)

    def _submit(self, request: HttpRequest, *, kind: str, params: dict):
        return job_submit(
            request, kind=kind, params=params, model=True, time_limit_s=settings.ADMIN_JOB_TRAINING_TIME_LIMIT_S
        )

    def get_urls(self) -> list:
        own = [
            path("train/", self.admin_site.admin_view(self.train_view), name="reasons_adapter_train"),
            path("<int:pk>/check/", self.admin_site.admin_view(self.check_view), name="reasons_adapter_check"),
        ]
        return own + super().get_urls()

    def train_view(self, request: HttpRequest) -> HttpResponse:
        """GET: the form (and, with `job`, where that training stands); POST: queue the training."""
        if not self.has_change_permission(request):
            raise Http404
        shown = job_context(request, request.GET.get("job"), kind=JobKind.ADAPTER_TRAIN)
        form = TrainForm(request.POST if request.method == "POST" else None)
        error, status = "", 200
        if request.method == "POST" and form.is_valid():
            params = {**form.cleaned_data, "user_id": request.user.pk}
            try:
                job = self._submit(request, kind=JobKind.ADAPTER_TRAIN, params=params)
            except JobLimitReached as exc:
                error, status = str(exc), 429
            else:
                return HttpResponseRedirect(f"{request.path}?{urlencode({'job': job.pk})}")
        return self._job_page(request, shown, title="Train a new reason adapter", form=form, error=error, status=status)

    def check_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Where a version's offline check job stands (the *Run the offline check* action's page)."""
        adapter = get_object_or_404(ReasonAdapter, pk=pk)
        if not self.has_view_permission(request, adapter):
            raise Http404
        shown = job_context(request, request.GET.get("job"), kind=JobKind.ADAPTER_CHECK)
        if shown["job"] is not None and shown["job"].params.get("adapter_id") != adapter.pk:
            raise Http404("that job checked another version")
        return self._job_page(
            request, shown, title=f"Offline check of reason adapter v{adapter.version}", adapter=adapter
        )

    def _job_page(self, request: HttpRequest, shown: dict, *, title: str, status: int = 200, **extra) -> HttpResponse:
        job = shown["job"]
        result = job.result if job is not None else None
        done_adapter = None
        if result and "adapter_id" in result:
            done_adapter = ReasonAdapter.objects.filter(pk=result["adapter_id"]).first()
        context = {
            **self.admin_site.each_context(request),
            **shown,
            **extra,
            "title": title,
            "result": result,
            "done_adapter": done_adapter,
            "backend_note": _backend_note(),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/recommendations/reasonadapter/job.html", context, status=status)


def _backend_note() -> str:
    if settings.REASON_BACKEND == TRANSFORMERS:
        return ""
    return f" Note: REASON_BACKEND is {settings.REASON_BACKEND}; adapters serve only with the transformers backend."
