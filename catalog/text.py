"""The text of a product that gets embedded, its hash (the embedding's staleness key), and the
cleaning of catalog text on its way in."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

# Bidirectional embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069): they make text
# display in another order than it is stored ("evil mug" shown as "live mug"), a spoofing tool.
BIDI_CONTROLS = dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A)])


def bidi_strip(text: str) -> tuple[str, bool]:
    """`text` without bidi control characters, and whether it held any."""
    cleaned = text.translate(BIDI_CONTROLS)
    return cleaned, len(cleaned) != len(text)


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
