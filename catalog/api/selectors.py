"""Reads behind the catalog API."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from catalog.importing.fields import FieldError
from catalog.importing.products import category_path_normalize
from catalog.models import Product


def product_list(
    *, category: str | None = None, in_stock: bool | None = None, q: str | None = None
) -> QuerySet[Product]:
    """Products in the category's subtree, by stock and title text, in a stable order (pages)."""
    products = Product.objects.select_related("category").order_by("external_id")
    if category:
        try:
            path = category_path_normalize(category)
        except FieldError:
            return products.none()  # no stored category has a part that long
        products = products.filter(Q(category__path=path) | Q(category__path__startswith=f"{path} > "))
    if in_stock is not None:
        products = products.filter(in_stock=in_stock)
    if q:
        products = products.filter(title__icontains=q)
    return products


def product_get(*, product_id: str) -> Product | None:
    return Product.objects.select_related("category").filter(external_id=product_id).first()
