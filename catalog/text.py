"""The text of a product that gets embedded, and its hash (the embedding's staleness key)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any


def product_text(
    *,
    title: str,
    description: str = "",
    category_path: str = "",
    brand: str = "",
    attributes: Mapping[str, Any] | None = None,
) -> str:
    """One line per field that says something about what the item is (not price or stock)."""
    parts = [title.strip()]
    if brand:
        parts.append(f"Brand: {brand.strip()}")
    if category_path:
        parts.append(f"Category: {category_path}")
    if attributes:
        parts.append("; ".join(f"{k}: {v}" for k, v in sorted(attributes.items()) if v not in (None, "")))
    if description:
        parts.append(description.strip())
    return "\n".join(p for p in parts if p)


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
