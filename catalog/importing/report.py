"""What an import did: counts, per-row errors (with their line numbers) and how long it took."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class RowError:
    """One rejected row: its line (file line, or 1-based position in a posted list), the field
    at fault (None when the row as a whole is bad) and a reason a person can act on."""

    line: int
    field: str | None
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field or 'row'}: {self.message}"


@dataclass(frozen=True)
class ImportReport:
    """`received` counts every row; each row ends up in exactly one of created / updated /
    unchanged / errors / conflicts (one error per rejected row, on its first fault; a conflict is
    a row whose id was stored with other content, so it was not stored)."""

    received: int
    created: int
    updated: int
    unchanged: int
    errors: list[RowError] = field(default_factory=list)
    duration_s: float = 0.0
    # Rows stored with a change a person should know about (a title cut for display, ...).
    warnings: list[RowError] = field(default_factory=list)
    # How the file was read (the rating scale used, ...).
    notes: list[str] = field(default_factory=list)
    conflicts: list[RowError] = field(default_factory=list)

    @property
    def rows_per_s(self) -> float:
        return self.received / self.duration_s if self.duration_s > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["rows_per_s"] = round(self.rows_per_s, 1)
        return data


def report_summary(report: ImportReport, *, label: str, max_errors: int = 50) -> list[str]:
    """Lines for a terminal: the counts, the speed, then the first `max_errors` errors."""
    conflicts = f", conflicts {len(report.conflicts)}" if report.conflicts else ""
    lines = [
        f"{label}: received {report.received}, created {report.created}, updated {report.updated}, "
        f"unchanged {report.unchanged}, errors {len(report.errors)}{conflicts} "
        f"({report.duration_s:.2f} s, {report.rows_per_s:,.0f} rows/s)"
    ]
    lines.extend(f"  {note}" for note in report.notes)
    lines.extend(f"  {error}" for error in report.errors[:max_errors])
    if len(report.errors) > max_errors:
        lines.append(f"  ... and {len(report.errors) - max_errors} more errors")
    lines.extend(f"  conflict: {conflict}" for conflict in report.conflicts[:max_errors])
    if report.warnings:
        lines.append(f"  {len(report.warnings)} row(s) stored with a warning:")
        lines.extend(f"  {warning}" for warning in report.warnings[:max_errors])
    return lines
