"""Rows from an interchange file: JSON Lines or CSV (same column names), optionally gzipped.

Each row comes out as `(line, row)`: the file's line number (CSV: the line the record ends on,
the header being line 1) and a dict, or a `BadLine` when the line cannot be a row at all (bad
JSON, not an object, bad encoding) so the import services report it with its line number.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

FORMATS = ("jsonl", "csv")
# `.json` files are read as JSON Lines, one object a line (the interchange format has no arrays).
_SUFFIX_FORMATS = {".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}


@dataclass(frozen=True)
class BadLine:
    """A line that could not be read as a row; the services turn it into a RowError."""

    message: str


Row = dict[str, Any] | BadLine


def format_from_name(name: str) -> str:
    """`products.csv.gz` -> "csv"; raises ValueError for an extension that says nothing."""
    path = Path(name)
    suffix = Path(path.stem).suffix if path.suffix == ".gz" else path.suffix
    try:
        return _SUFFIX_FORMATS[suffix.lower()]
    except KeyError:
        raise ValueError(f"cannot tell the format of {name!r} from its extension; pass fmt 'jsonl' or 'csv'") from None


def read_rows(path_or_file: str | os.PathLike[str] | IO[Any], *, fmt: str | None = None) -> Iterator[tuple[int, Row]]:
    """Yield `(line, row)` for every non-blank line (JSONL) or record (CSV) of a file.

    `path_or_file` is a path (`.gz` is decompressed) or an open file, text or binary; `fmt`
    ("jsonl" or "csv") overrides the format the name suggests. Raises OSError / ValueError when
    the file itself cannot be read; a bad line is yielded as a `BadLine` instead.
    """
    if isinstance(path_or_file, str | os.PathLike):
        path = Path(path_or_file)
        fmt = _checked_format(fmt or format_from_name(path.name))
        opener = gzip.open if path.suffix.lower() == ".gz" else open
        with opener(path, "rb") as handle:
            yield from _read(handle, fmt)
    else:
        fmt = _checked_format(fmt or format_from_name(getattr(path_or_file, "name", "") or ""))
        yield from _read(path_or_file, fmt)


def _checked_format(fmt: str) -> str:
    fmt = "jsonl" if fmt == "json" else fmt
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    return fmt


def _read(handle: IO[Any], fmt: str) -> Iterator[tuple[int, Row]]:
    if fmt == "csv":
        text = (
            handle if isinstance(handle, io.TextIOBase) else io.TextIOWrapper(handle, encoding="utf-8-sig", newline="")
        )
        yield from _read_csv(text)
    else:
        yield from _read_jsonl(handle)


def _read_jsonl(handle: IO[Any]) -> Iterator[tuple[int, Row]]:
    for line_no, raw in enumerate(handle, start=1):
        if isinstance(raw, bytes):
            try:
                raw = raw.decode("utf-8-sig" if line_no == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                yield line_no, BadLine(f"not valid UTF-8 ({exc.reason})")
                continue
        if not raw.strip():
            continue
        try:
            value = json.loads(raw.strip())
        except json.JSONDecodeError as exc:
            yield line_no, BadLine(f"invalid JSON: {exc.msg} (column {exc.colno})")
            continue
        if isinstance(value, dict):
            yield line_no, value
        else:
            yield line_no, BadLine(f"not a JSON object (got {type(value).__name__})")


def _read_csv(handle: IO[str]) -> Iterator[tuple[int, Row]]:
    reader = csv.DictReader(handle)
    for record in reader:
        extra = record.pop(None, None)  # type: ignore[call-overload]
        if extra:
            yield reader.line_num, BadLine(f"{len(extra)} more field(s) than the header has")
        else:
            yield reader.line_num, record
