"""What `import_catalog` and `import_events` share: read a file, run one import service, report."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalog.importing.readers import FORMATS, read_rows
from catalog.importing.report import ImportReport, report_summary


class ImportFileCommand(BaseCommand):
    label: str
    # The import service: rows in, report out (`products_upsert`, `events_ingest`).
    service: Callable[..., ImportReport]

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--format", choices=[*FORMATS, "json"], help="override the format the extension suggests")
        parser.add_argument("--errors-json", type=Path, help="write every row error to this JSON file")

    def handle(self, *args, **options) -> None:
        rows: Iterable = read_rows(options["file"], fmt=options["format"])
        try:
            report = type(self).service(rows=rows, **self.service_options(options))
        except (OSError, EOFError, ValueError, csv.Error) as exc:
            raise CommandError(f"cannot read {options['file']}: {exc}") from exc
        self.stdout.write("\n".join(report_summary(report, label=self.label)))
        if options["errors_json"]:
            options["errors_json"].write_text(json.dumps(report.as_dict()["errors"], indent=1))
        self.after_import(report=report, options=options)

    def service_options(self, options: dict) -> dict:
        """Keyword arguments of the import service taken from the command's own options."""
        return {}

    def after_import(self, *, report: ImportReport, options: dict) -> None:
        """Hook for follow-up work once the rows are stored."""
