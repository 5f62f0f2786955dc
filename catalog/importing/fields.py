"""Field parsers shared by the import services: each takes the raw value from a JSON object or a
CSV cell (always a string there) and returns the typed value, or raises FieldError with a reason.

A missing key, None and a blank string all mean "not given" (CSV cannot tell them apart).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Generic, TypeVar

from catalog.importing.readers import BadLine, Row
from catalog.importing.report import RowError

T = TypeVar("T")

_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


class FieldError(ValueError):
    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def numbered(rows: Iterable[Row] | Iterable[tuple[int, Row]]) -> Iterator[tuple[int, Row | Any]]:
    """Accept `(line, row)` pairs from `read_rows` or bare rows (a posted list, numbered from 1)."""
    for position, item in enumerate(rows, start=1):
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], int):
            yield item
        else:
            yield position, item


def row_problem(row: Any) -> str | None:
    """Why a row is no row at all (None when it is a dict)."""
    if isinstance(row, BadLine):
        return row.message
    if not isinstance(row, Mapping):
        return f"not an object (got {type(row).__name__})"
    return None


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def text(row: Mapping[str, Any], name: str, *, max_length: int, required: bool = False) -> str:
    value = row.get(name)
    # Fast path for the common case (a non-blank string of fitting length): events are parsed
    # at tens of thousands of rows a second.
    if type(value) is str:
        stripped = value.strip()
        if stripped and len(stripped) <= max_length:
            return stripped
    if is_blank(value):
        if required:
            raise FieldError(name, "is required")
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise FieldError(name, f"must be a string, not {type(value).__name__}")
    value = str(value).strip()
    if len(value) > max_length:
        raise FieldError(name, f"is longer than {max_length} characters")
    return value


def boolean(row: Mapping[str, Any], name: str, *, default: bool) -> bool:
    value = row.get(name)
    if is_blank(value):
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
    raise FieldError(name, f"must be a boolean (true/false/1/0/yes/no), got {value!r}")


def price(row: Mapping[str, Any], name: str) -> Decimal | None:
    """A decimal >= 0 with at most 2 decimal places and 10 integer digits (the column's shape)."""
    value = row.get(name)
    if is_blank(value):
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise FieldError(name, f"must be a number, not {type(value).__name__}")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise FieldError(name, f"must be a number, got {value!r}") from None
    if not amount.is_finite():
        raise FieldError(name, f"must be a finite number, got {value!r}")
    if amount < 0:
        raise FieldError(name, f"must be >= 0, got {value!r}")
    if amount != amount.quantize(Decimal("0.01")):
        raise FieldError(name, f"has more than 2 decimal places: {value!r}")
    if amount >= Decimal("1e10"):
        raise FieldError(name, f"is too large: {value!r}")
    return amount.quantize(Decimal("0.01"))


def number(row: Mapping[str, Any], name: str) -> float | None:
    value = row.get(name)
    if type(value) is float and math.isfinite(value):
        return value
    if is_blank(value):
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise FieldError(name, f"must be a number, not {type(value).__name__}")
    try:
        result = float(value)
    except ValueError:
        raise FieldError(name, f"must be a number, got {value!r}") from None
    if not math.isfinite(result):
        raise FieldError(name, f"must be a finite number, got {value!r}")
    return result


def json_object(row: Mapping[str, Any], name: str) -> dict[str, Any]:
    """An object, or (CSV) a string holding a JSON object."""
    value = row.get(name)
    if is_blank(value):
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise FieldError(name, f"is not valid JSON: {exc.msg}") from None
    if not isinstance(value, dict):
        raise FieldError(name, f"must be an object, not {type(value).__name__}")
    return value


def timestamp(row: Mapping[str, Any], name: str) -> dt.datetime:
    """ISO 8601; a time without an offset is taken as UTC. Returned in UTC."""
    value = row.get(name)
    if not isinstance(value, str):
        if value is None:
            raise FieldError(name, "is required")
        raise FieldError(name, f"must be an ISO 8601 string, not {type(value).__name__}")
    if not value.strip():
        raise FieldError(name, "is required")
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise FieldError(name, f"is not an ISO 8601 time: {value!r}") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def uuid_value(row: Mapping[str, Any], name: str) -> uuid.UUID | None:
    value = row.get(name)
    if is_blank(value):
        return None
    if not isinstance(value, str):
        raise FieldError(name, f"must be a UUID string, not {type(value).__name__}")
    try:
        return uuid.UUID(value.strip())
    except ValueError:
        raise FieldError(name, f"is not a UUID: {value!r}") from None


@dataclass(frozen=True)
class ParsedRows(Generic[T]):
    """Rows parsed and de-duplicated by id: the last row of each id wins."""

    received: int
    errors: list[RowError]
    latest: dict[str, tuple[int, T]]


def parse_latest(
    rows: Iterable[Row] | Iterable[tuple[int, Row]], *, parse: Callable[[Row], T], key: Callable[[T], str]
) -> ParsedRows[T]:
    """Parse every row; a bad row or an earlier row of a repeated id becomes a `RowError`."""
    received = 0
    errors: list[RowError] = []
    latest: dict[str, tuple[int, T]] = {}
    for line, row in numbered(rows):
        received += 1
        problem = row_problem(row)
        if problem:
            errors.append(RowError(line, None, problem))
            continue
        try:
            item = parse(row)
        except FieldError as exc:
            errors.append(RowError(line, exc.field, exc.message))
            continue
        item_id = key(item)
        if item_id in latest:
            errors.append(RowError(latest[item_id][0], "id", f"duplicate id {item_id!r}: replaced by line {line}"))
        latest[item_id] = (line, item)
    return ParsedRows(received=received, errors=errors, latest=latest)
