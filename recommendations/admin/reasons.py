"""Admin for prompt templates: edit (every save is a new draft version), diff, preview a version
against chosen customers and items with the guardrails' verdicts, publish it (who and when are
kept) or roll back to an earlier published one; the pool's impressions, clicks and posterior;
cached generations."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import BadRequest, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from recommendations.admin.inputs import PREVIEW_PAIRS_MAX, id_param, nul_message, preview_pairs
from recommendations.admin.jobs import job_context, job_submit
from recommendations.adminjobs.models import JobKind
from recommendations.adminjobs.service import JobLimitReached
from recommendations.reasons import templates
from recommendations.reasons.backends import BACKENDS, GROUNDED
from recommendations.reasons.models import Generation, PromptTemplate, PromptTemplateVersion
from recommendations.reasons.pool import active_templates_forget, posterior_mean


class PromptTemplateForm(forms.ModelForm):
    body = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 12, "cols": 100}),
        help_text="The prompt sent to a language model (Django template language; variables below).",
    )
    grounded = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 100}),
        help_text="What the grounded backend (no model) writes; empty: the built-in grounded reason.",
    )
    note = forms.CharField(required=False, max_length=200, help_text="What changed (kept with the new version).")

    class Meta:
        model = PromptTemplate
        fields = ["name", "purpose", "placement", "is_active"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # An edit starts from the newest version: a pending draft, else what is served.
        version = templates.template_latest_version(template_id=self.instance.pk) if self.instance.pk else None
        if version is not None:
            self.fields["body"].initial = version.body
            self.fields["grounded"].initial = version.grounded

    def clean_body(self) -> str:
        return _compiled_or_error(self.cleaned_data["body"])

    def clean_grounded(self) -> str:
        return _compiled_or_error(self.cleaned_data["grounded"])


def _compiled_or_error(source: str) -> str:
    try:
        templates.template_compile_check(source=source)
    except templates.TemplateError as exc:
        raise ValidationError(str(exc)) from exc
    return source


class VersionInline(admin.TabularInline):
    model = PromptTemplateVersion
    fk_name = "template"
    extra = 0
    can_delete = False
    fields = ("version", "note", "created_at", "state", "actions_")
    readonly_fields = fields
    ordering = ("-version",)

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="state")
    def state(self, version: PromptTemplateVersion) -> str:
        if version.published_at is None:
            return format_html('<span class="draft">draft (not served)</span>')
        who = version.published_by.get_username() if version.published_by else "migration or API"
        served = " — <strong>served</strong>" if version.template.active_version_id == version.pk else ""
        return format_html("published {} by {}" + served, version.published_at.strftime("%Y-%m-%d %H:%M"), who)

    @admin.display(description="")
    def actions_(self, version: PromptTemplateVersion) -> str:
        template = version.template
        diff = reverse("admin:reasons_template_diff", args=[template.pk])
        preview = reverse("admin:reasons_template_preview", args=[template.pk])
        # Inside the change form (forms cannot nest): a button posts that form, with its CSRF
        # token, to the publish or roll-back URL instead.
        if version.published_at is None:
            publish = reverse("admin:reasons_template_publish", args=[template.pk, version.pk])
            button = format_html(
                '<button type="submit" formaction="{}" formmethod="post" class="publish">publish</button>', publish
            )
        elif template.active_version_id != version.pk:
            activate = reverse("admin:reasons_template_activate", args=[template.pk, version.pk])
            button = format_html(
                '<button type="submit" formaction="{}" formmethod="post" class="rollback">roll back to this</button>',
                activate,
            )
        else:
            button = ""
        old = template.active_version_id or version.pk
        return format_html(
            '{} <a href="{}?old={}&new={}">diff with served</a> · <a href="{}?version={}">preview</a>',
            button,
            diff,
            old,
            version.pk,
            preview,
            version.pk,
        )


@admin.register(PromptTemplate)
class PromptTemplateAdmin(admin.ModelAdmin):
    form = PromptTemplateForm
    inlines = [VersionInline]
    list_display = ("name", "purpose", "placement", "is_active", "version", "impressions", "clicks", "ctr", "posterior")
    list_filter = ("purpose", "placement", "is_active")
    readonly_fields = ("impressions", "clicks", "posterior", "variables")
    fieldsets = (
        (None, {"fields": ("name", "purpose", "placement", "is_active")}),
        (
            "Text (saving stores a new draft: preview it, then publish it from the versions below)",
            {"fields": ("body", "grounded", "note", "variables")},
        ),
        ("Prompt pool (Thompson sampling on clicks)", {"fields": ("impressions", "clicks", "posterior")}),
    )

    @admin.display(description="served version")
    def version(self, template: PromptTemplate) -> str:
        served = f"v{template.active_version.version}" if template.active_version else "—"
        latest = templates.template_latest_version(template_id=template.pk)
        if latest is not None and latest.published_at is None:
            return f"{served} (draft v{latest.version})"
        return served

    @admin.display(description="CTR")
    def ctr(self, template: PromptTemplate) -> str:
        return f"{template.clicks / template.impressions:.2%}" if template.impressions else "—"

    @admin.display(description="posterior mean CTR, Beta(1+clicks, 1+misses)")
    def posterior(self, template: PromptTemplate) -> str:
        return f"{posterior_mean(impressions=template.impressions, clicks=template.clicks):.4f}"

    @admin.display(description="variables")
    def variables(self, template: PromptTemplate) -> str:
        doc = templates.__doc__ or ""
        return format_html(
            "<pre style='white-space:pre-wrap'>{}</pre>",
            doc.split("(all strings are sanitised catalog text, see `guardrails`):", 1)[-1].strip(),
        )

    def save_model(self, request, obj: PromptTemplate, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        latest = templates.template_latest_version(template_id=obj.pk)
        body, grounded = form.cleaned_data["body"], form.cleaned_data["grounded"]
        if latest is None or (latest.body, latest.grounded) != (body, grounded):
            draft = templates.template_version_create(
                template_id=obj.pk, body=body, grounded=grounded, note=form.cleaned_data["note"]
            )
            preview = reverse("admin:reasons_template_preview", args=[obj.pk])
            self.message_user(
                request,
                format_html(
                    'Draft v{} saved, not served yet: <a href="{}?version={}">preview it</a>, then publish it.',
                    draft.version,
                    preview,
                    draft.pk,
                ),
                messages.WARNING,
            )
            obj.refresh_from_db()
        active_templates_forget()

    def get_urls(self):
        own = [
            path("<int:pk>/diff/", self.admin_site.admin_view(self.diff_view), name="reasons_template_diff"),
            path("<int:pk>/preview/", self.admin_site.admin_view(self.preview_view), name="reasons_template_preview"),
            path(
                "<int:pk>/versions/<int:version_pk>/publish/",
                self.admin_site.admin_view(require_POST(self.publish_view)),
                name="reasons_template_publish",
            ),
            path(
                "<int:pk>/versions/<int:version_pk>/activate/",
                self.admin_site.admin_view(require_POST(self.activate_view)),
                name="reasons_template_activate",
            ),
        ]
        return own + super().get_urls()

    def _template(self, request: HttpRequest, pk: int) -> PromptTemplate:
        template = get_object_or_404(PromptTemplate, pk=pk)
        if not self.has_view_permission(request, template):
            raise Http404
        return template

    def diff_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        template = self._template(request, pk)
        versions = {v.pk: v for v in template.versions.all()}
        try:
            old, new = int(request.GET.get("old", "")), int(request.GET.get("new", ""))
        except ValueError:
            old = new = None
        if old not in versions or new not in versions:
            raise Http404("pick two versions of this template")
        diff = templates.template_versions_diff(old_id=old, new_id=new)
        context = {
            **self.admin_site.each_context(request),
            "title": f"{template.name}: v{versions[old].version} → v{versions[new].version}",
            "template_obj": template,
            "diff_lines": diff.splitlines() or ["(no difference)"],
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/recommendations/prompttemplate/diff.html", context)

    def activate_view(self, request: HttpRequest, pk: int, version_pk: int) -> HttpResponse:
        template = self._template(request, pk)
        if not self.has_change_permission(request, template):
            raise Http404
        version = get_object_or_404(PromptTemplateVersion, pk=version_pk, template=template)
        try:
            templates.template_version_activate(version_id=version.pk)
        except templates.TemplateError as exc:
            self.message_user(request, str(exc), messages.ERROR)
        else:
            active_templates_forget()
            self.log_change(request, template, f"Rolled back to v{version.version}")
            self.message_user(request, f"{template.name}: v{version.version} is now served.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:recommendations_prompttemplate_change", args=[template.pk]))

    def publish_view(self, request: HttpRequest, pk: int, version_pk: int) -> HttpResponse:
        template = self._template(request, pk)
        if not self.has_change_permission(request, template):
            raise Http404
        version = get_object_or_404(PromptTemplateVersion, pk=version_pk, template=template)
        templates.template_version_publish(version_id=version.pk, user_id=request.user.pk)
        active_templates_forget()
        self.log_change(request, template, f"Published v{version.version}")
        self.message_user(
            request, f"{template.name}: v{version.version} is published by you and now served.", messages.SUCCESS
        )
        return HttpResponseRedirect(reverse("admin:recommendations_prompttemplate_change", args=[template.pk]))

    def preview_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """GET: the form (and, with `job`, that job's previews); POST: check the input and queue the
        previews as a job on a worker (a model may take seconds per pair), then show it."""
        template = self._template(request, pk)
        version_id = template.active_version_id
        if request.GET.get("version"):
            version_id = id_param(request.GET["version"])
            if version_id is None:
                raise BadRequest(f"version: not a version id: {request.GET['version']!r}")
        version = get_object_or_404(PromptTemplateVersion, pk=version_id, template=template)
        shown = job_context(request, request.GET.get("job"), kind=JobKind.PROMPT_PREVIEW)
        job = shown["job"]
        if job is not None and job.params["version_id"] != version.pk:
            raise Http404("that job previewed another version")
        params = request.POST if request.method == "POST" else (job.params if job else request.GET)
        customer, product = params.get("customer", "").strip(), params.get("product", "").strip()
        backend_name = params.get("backend") or settings.REASON_BACKEND
        error, status = "", 200
        if request.method == "POST":
            error = self._preview_input_error(template, customer=customer, product=product, backend=backend_name)
            customer, product = customer.replace("\x00", ""), product.replace("\x00", "")
            if not error:
                pairs = preview_pairs(customers=customer, products=product, purpose=template.purpose)
                job_params = {
                    "version_id": version.pk,
                    "backend": backend_name,
                    "pairs": pairs,
                    "customer": customer,
                    "product": product,
                }
                try:
                    job = job_submit(
                        request, kind=JobKind.PROMPT_PREVIEW, params=job_params, model=backend_name != GROUNDED
                    )
                except JobLimitReached as exc:
                    error, status = str(exc), 429
                else:
                    return HttpResponseRedirect(f"{request.path}?{urlencode({'version': version.pk, 'job': job.pk})}")
        done = job is not None and job.result is not None
        results = job.result["results"] if done else []
        if len(results) == 1 and results[0][3]:
            error = results[0][3]
        context = {
            **self.admin_site.each_context(request),
            **shown,
            "title": f"Preview {template.name} v{version.version}",
            "template_obj": template,
            "version": version,
            "customer": customer,
            "product": product,
            "results": results,
            "accepted": job.result["accepted"] if done else 0,
            "error": error,
            "backends": BACKENDS,
            "backend": backend_name,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/recommendations/prompttemplate/preview.html", context, status=status)

    @staticmethod
    def _preview_input_error(template: PromptTemplate, *, customer: str, product: str, backend: str) -> str:
        """What is wrong with the preview's input, in words; empty when nothing is."""
        bad = [name for name, value in (("customer", customer), ("product", product)) if "\x00" in value]
        if bad:
            return nul_message(bad)
        if backend not in BACKENDS:
            return f"unknown backend {backend!r}"
        if not customer:
            return "Enter at least one customer id."
        pairs = preview_pairs(customers=customer, products=product, purpose=template.purpose)
        if len(pairs) > PREVIEW_PAIRS_MAX:
            return f"{len(pairs)} customer × product pairs: choose at most {PREVIEW_PAIRS_MAX}"
        return ""


@admin.register(Generation)
class GenerationAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "purpose",
        "product",
        "route",
        "seed",
        "backend",
        "model",
        "accepted",
        "guardrail",
        "text",
        "latency_ms",
    )
    list_filter = ("purpose", "accepted", "guardrail", "backend")
    search_fields = ("text", "output")
    list_select_related = ("product", "seed")
    readonly_fields = [f.name for f in Generation._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
