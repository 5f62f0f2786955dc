"""`manage.py drift reference --end 2011-10-01` builds the drift reference from the events before
`--end`; `manage.py drift check --start 2011-10-01 --end 2012-01-01` compares a window with it
and prints (and stores) the scores; `--json out.json` writes them too."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from monitoring.services import NoReference, drift_check, drift_reference_build


def _when(value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    parsed = parse_datetime(value) or parse_datetime(f"{value}T00:00:00")
    if parsed is None:
        raise CommandError(f"not an ISO date or time: {value!r}")
    return parsed if timezone.is_aware(parsed) else parsed.replace(tzinfo=dt.UTC)


class Command(BaseCommand):
    help = "Build the embedding drift reference, or check a window against it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["reference", "check"])
        parser.add_argument("--start", help="window start (ISO); reference: from the first event when left out")
        parser.add_argument("--end", help="window end (ISO, exclusive); default now")
        parser.add_argument("--json", dest="json_path", type=Path, help="write the check's scores here")

    def handle(self, *args, action: str, start: str | None, end: str | None, json_path: Path | None, **options) -> None:
        window_start, window_end = _when(start), _when(end) or timezone.now()
        if action == "reference":
            reference = drift_reference_build(window_start=window_start, window_end=window_end)
            sizes = ", ".join(f"{signal} {len(values)}" for signal, values in reference.samples.items())
            self.stdout.write(f"reference {reference.pk} ({reference.model_name}): {sizes}")
            return
        if window_start is None:
            raise CommandError("check needs --start")
        try:
            reports = drift_check(window_start=window_start, window_end=window_end)
        except NoReference as exc:
            raise CommandError(str(exc)) from exc
        rows = [
            {
                "signal": r.signal,
                "psi": round(r.psi, 4),
                "ks": round(r.ks_statistic, 4),
                "ks_p": r.ks_p_value,
                "mean_shift": None if r.mean_shift is None else round(r.mean_shift, 4),
                "n_ref": r.n_reference,
                "n_cur": r.n_current,
                "alert": r.alert,
                "model": r.model_name,
            }
            for r in reports
        ]
        for row in rows:
            self.stdout.write("  ".join(f"{key}={value}" for key, value in row.items()))
        if json_path is not None:
            json_path.write_text(json.dumps(rows, indent=2))
