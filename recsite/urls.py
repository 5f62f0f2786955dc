from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerView,
)

from recsite.api_errors import api_not_found
from recsite.health import HealthzApi, ReadyzApi

admin.site.site_header = "recsite"
admin.site.site_title = "recsite"
admin.site.index_title = "Catalog, recommendations and experiments"

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    # Before the admin's own URLs, whose catch-all would answer it; a string, so recsite imports no app.
    path("admin/overview/", include("monitoring.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("catalog.urls")),
    path("api/v1/", include("recommendations.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="api-redoc"),
    path("healthz", HealthzApi.as_view(), name="healthz"),
    path("readyz", ReadyzApi.as_view(), name="readyz"),
    # Last: an API URL no route above matches gets the API's JSON 404.
    re_path(r"^api/v1/", api_not_found),
]
if settings.METRICS_ENABLED:
    from recsite.metrics_export import metrics_view

    urlpatterns.append(path("metrics", metrics_view, name="metrics"))
