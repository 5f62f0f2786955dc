"""Monitoring's pages outside the model admin, mounted under /admin/ by recsite.urls."""

from __future__ import annotations

from django.contrib import admin
from django.urls import path

from monitoring.views import overview_view

# admin_view: staff only (others go to the admin login), as every admin page.
urlpatterns = [path("", admin.site.admin_view(overview_view), name="overview")]
