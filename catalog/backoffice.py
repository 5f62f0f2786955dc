"""What the catalog admin's bulk actions and upload call."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from typing import IO, Any

from django.utils import timezone

from catalog.dispatch import request_embedding
from catalog.importing.products import products_upsert
from catalog.importing.readers import read_rows
from catalog.importing.report import ImportReport
from catalog.models import Product, ProductEmbedding


def products_set_stock(*, pks: Sequence[int], in_stock: bool) -> int:
    """Mark products in or out of stock; returns how many changed. `updated_at` moves with them,
    which the out-of-stock detector reads as the time the stock changed."""
    return (
        Product.objects.filter(pk__in=pks)
        .exclude(in_stock=in_stock)
        .update(in_stock=in_stock, updated_at=timezone.now())
    )


def products_reembed(*, pks: Sequence[int]) -> tuple[int, bool]:
    """Drop these products' embeddings so the embed task computes them again, and ask for it.

    Returns (embeddings dropped, whether the request reached the broker; if not, the periodic
    task embeds them)."""
    dropped, _ = ProductEmbedding.objects.filter(product_id__in=pks).delete()
    return dropped, request_embedding()


class UploadError(ValueError):
    """The file as a whole cannot be read (bad rows are reported in the import report instead)."""


def catalog_upload(*, file: IO[Any], fmt: str | None = None) -> ImportReport:
    """Import an uploaded JSON Lines or CSV product file, as `manage.py import_catalog` does."""
    try:
        report = products_upsert(rows=read_rows(file, fmt=fmt or None))
    except (OSError, EOFError, ValueError, csv.Error, UnicodeDecodeError) as exc:
        raise UploadError(str(exc)) from exc
    if report.created or report.updated:
        request_embedding()
    return report
