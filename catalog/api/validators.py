"""Checks for free-form JSON input (product attributes) that PostgreSQL would refuse to store."""

from __future__ import annotations

import math
from typing import Any

from rest_framework.exceptions import ValidationError

MAX_JSON_DEPTH = 16


def json_storable(value: Any) -> None:
    """Reject what `jsonb` cannot hold (NUL characters, lone surrogates, NaN / Infinity) and
    nesting deeper than `MAX_JSON_DEPTH`, instead of letting the INSERT fail with a 500."""
    _check(value, depth=0)


def _check(value: Any, *, depth: int) -> None:
    if depth > MAX_JSON_DEPTH:
        raise ValidationError(f"Nested deeper than {MAX_JSON_DEPTH} levels.")
    if isinstance(value, str):
        _check_text(value)
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValidationError("NaN and Infinity cannot be stored.")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(str(key))
            _check(item, depth=depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check(item, depth=depth + 1)


def _check_text(text: str) -> None:
    if "\x00" in text:
        raise ValidationError("Null characters are not allowed.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValidationError("Surrogate characters are not allowed.") from exc
