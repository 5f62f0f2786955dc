"""The staff overview page (thin: the data comes from monitoring.overview)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from monitoring.overview import overview


def overview_view(request: HttpRequest) -> HttpResponse:
    context = {**admin.site.each_context(request), "title": "Overview", "overview": overview()}
    return TemplateResponse(request, "admin/overview.html", context)
