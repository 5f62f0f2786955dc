"""Admin jobs in the admin: a page submits its expensive work as a job (recommendations.adminjobs),
answers at once and polls the job's status; each user sees their own jobs (superusers all)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin
from django.http import Http404, HttpRequest, JsonResponse
from django.urls import path, reverse

from recommendations.adminjobs.models import AdminJob
from recommendations.adminjobs.service import (
    HARD_LIMIT_EXTRA_S,
    JobNotFound,
    job_create,
    job_fail,
    job_read,
    job_status,
)
from recommendations.tasks import run_admin_job


def job_submit(
    request: HttpRequest, *, kind: str, params: dict[str, Any], model: bool = False, time_limit_s: int | None = None
) -> AdminJob:
    """Create the request user's job and queue it (`model`: on the queue of the workers that hold
    the language model; `time_limit_s`: default ADMIN_JOB_TIME_LIMIT_S). Raises JobLimitReached. A
    broker that cannot be reached fails the job at once, with a message the page shows (nothing ran)."""
    job = job_create(
        user_id=request.user.pk,
        kind=kind,
        params=params,
        time_limit_s=time_limit_s or settings.ADMIN_JOB_TIME_LIMIT_S,
        queue_wait_s=settings.ADMIN_JOB_QUEUE_WAIT_S,
        per_user=settings.ADMIN_JOBS_PER_USER,
    )
    try:
        run_admin_job.apply_async(
            kwargs={"job_id": str(job.pk)},
            queue=settings.ADMIN_JOB_MODEL_QUEUE if model else settings.ADMIN_JOB_QUEUE,
            soft_time_limit=job.time_limit_s,
            time_limit=job.time_limit_s + HARD_LIMIT_EXTRA_S,
            # Not started by then: dropped, and the page says so (job_status).
            expires=job.queue_wait_s,
            retry=False,
        )
    except Exception as exc:  # kombu raises transport-specific errors; any of them means "not queued"
        job_fail(job_id=job.pk, error=f"the job queue cannot be reached ({exc}); nothing ran.")
    return job


def job_context(request: HttpRequest, job_id: str | None, *, kind: str) -> dict[str, Any]:
    """The template context of a page showing its job (of `kind`): the job, where it stands, and
    the URL its script polls. Another user's job, or no such job, is a 404."""
    if not job_id:
        return {"job": None}
    try:
        job = job_read(job_id=job_id, user=request.user)
    except JobNotFound as exc:
        raise Http404("no such job") from exc
    if job.kind != kind:
        raise Http404("no such job on this page")
    return {
        "job": job,
        "job_status": job_status(job),
        "job_status_url": reverse("admin:recommendations_adminjob_status", args=[job.pk]),
    }


@admin.register(AdminJob)
class AdminJobAdmin(admin.ModelAdmin):
    list_display = ("created_at", "kind", "user", "status", "time_limit_s")
    list_filter = ("kind", "state")
    readonly_fields = [f.name for f in AdminJob._meta.fields]

    @admin.display(description="state now")
    def status(self, job: AdminJob) -> str:
        return job_status(job).message

    def get_queryset(self, request: HttpRequest):
        jobs = super().get_queryset(request).select_related("user")
        return jobs if request.user.is_superuser else jobs.filter(user=request.user)

    # Every staff user may see their own jobs; nobody edits them.
    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_staff

    def has_view_permission(self, request: HttpRequest, obj: AdminJob | None = None) -> bool:
        return self.has_module_permission(request) and (
            obj is None or obj.user_id == request.user.pk or request.user.is_superuser
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AdminJob | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AdminJob | None = None) -> bool:
        return False

    def get_urls(self) -> list:
        status = path(
            "<str:pk>/status/", self.admin_site.admin_view(self.status_view), name="recommendations_adminjob_status"
        )
        return [status, *super().get_urls()]

    def status_view(self, request: HttpRequest, pk: str) -> JsonResponse:
        """What the page's script polls: {state, finished, message}; 404 for another user's job."""
        try:
            job = job_read(job_id=pk, user=request.user)
        except JobNotFound:
            return JsonResponse({"error": "no such job"}, status=404)
        status = job_status(job)
        return JsonResponse({"state": status.state, "finished": status.finished, "message": status.message})
