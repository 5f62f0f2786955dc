"""A posted body (one object or a list of them) → validated rows → an import service → a
per-row report whose errors point at positions in the posted list (0-based `index`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.settings import api_settings

from catalog.importing.report import ImportReport
from recsite.api_errors import Conflict, first_message

MAX_BATCH_ROWS = 1000


@dataclass(frozen=True)
class BatchRowError:
    index: int
    field: str | None
    message: str


@dataclass(frozen=True)
class BatchResult:
    received: int
    created: int
    updated: int
    unchanged: int
    errors: tuple[BatchRowError, ...]
    # The body was one object, not a list: its failure is the request's failure.
    single: bool
    # Rows whose id was stored with other content (events): not stored, not errors in their shape.
    conflicts: tuple[BatchRowError, ...] = ()
    # Rows stored with a change (bidi controls removed, a long title cut).
    warnings: tuple[BatchRowError, ...] = ()


def batch_rows(*, data: Any, noun: str, max_rows: int = MAX_BATCH_ROWS) -> tuple[list[Any], bool]:
    """The rows of a body that is one object or a non-empty list of at most `max_rows` items,
    and whether it was a single object; anything else is a 400."""
    if isinstance(data, dict):
        return [data], True
    if not isinstance(data, list):
        raise ValidationError(f"Expected an object (one {noun}) or a list of them, got {_json_type(data)}.")
    if not data:
        raise ValidationError(f"Expected at least one {noun}; the list is empty.")
    if len(data) > max_rows:
        raise ValidationError(f"At most {max_rows} {noun}s per request; got {len(data)}.")
    return data, False


def batch_import(
    *,
    data: Any,
    noun: str,
    row_serializer: type[serializers.Serializer],
    service: Callable[..., ImportReport],
) -> BatchResult:
    """Validate each row's shape, hand the valid rows to `service(rows=...)` and merge both
    stages' errors by position in the posted list. A single-object body fails as a whole (400, or
    409 for a conflict)."""
    rows, single = batch_rows(data=data, noun=noun)
    errors: list[BatchRowError] = []
    positions: list[int] = []
    valid_rows: list[dict[str, Any]] = []
    for index, row in enumerate(rows):
        error = _row_error(index=index, row=row, row_serializer=row_serializer)
        if error is not None:
            errors.append(error)
            continue
        positions.append(index)
        # Only the fields checked above reach the importer, as sent (its own parsing applies).
        valid_rows.append({name: row[name] for name in row_serializer().fields if name in row})
    report = service(rows=valid_rows) if valid_rows else ImportReport(received=0, created=0, updated=0, unchanged=0)
    # The importer numbers the rows it was given from 1.
    errors += [BatchRowError(positions[e.line - 1], e.field, e.message) for e in report.errors]
    errors.sort(key=lambda e: e.index)
    conflicts = tuple(BatchRowError(positions[c.line - 1], c.field, c.message) for c in report.conflicts)
    if single and errors:
        raise ValidationError({errors[0].field or api_settings.NON_FIELD_ERRORS_KEY: [errors[0].message]})
    if single and conflicts:
        raise Conflict({conflicts[0].field or api_settings.NON_FIELD_ERRORS_KEY: [conflicts[0].message]})
    return BatchResult(
        received=len(rows),
        created=report.created,
        updated=report.updated,
        unchanged=report.unchanged,
        errors=tuple(errors),
        single=single,
        conflicts=conflicts,
        warnings=tuple(BatchRowError(positions[w.line - 1], w.field, w.message) for w in report.warnings),
    )


def _row_error(*, index: int, row: Any, row_serializer: type[serializers.Serializer]) -> BatchRowError | None:
    if not isinstance(row, dict):
        return BatchRowError(index, None, f"Expected an object, got {_json_type(row)}.")
    serializer = row_serializer(data=row)
    if serializer.is_valid():
        return None
    field, messages = next(iter(serializer.errors.items()))
    return BatchRowError(
        index,
        None if field == api_settings.NON_FIELD_ERRORS_KEY else field,
        first_message(messages),
    )


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else "an object"
