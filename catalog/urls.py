"""Catalog API routes, mounted under /api/v1/. A product id is one path segment (`[^/]+`).

The trailing slash is optional: a POST without it must not meet Django's APPEND_SLASH redirect
(an error under DEBUG, a lost body otherwise).
"""

from django.urls import re_path

from catalog.api.customers import CustomersApi
from catalog.api.views import EventIngestApi, ProductDetailApi, ProductsApi

urlpatterns = [
    re_path(r"^products/?$", ProductsApi.as_view(), name="products"),
    re_path(r"^products/(?P<product_id>[^/]+)/?$", ProductDetailApi.as_view(), name="product-detail"),
    re_path(r"^customers/?$", CustomersApi.as_view(), name="customers"),
    re_path(r"^events/?$", EventIngestApi.as_view(), name="events"),
]
