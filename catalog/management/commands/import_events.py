"""`manage.py import_events FILE`: ingest behaviour events from a JSON Lines or CSV file."""

from __future__ import annotations

from django.core.management.base import CommandParser

from catalog.importing.events import events_ingest
from catalog.importing.ratings import AUTO, SCALES
from catalog.management.commands._import_file import ImportFileCommand


class Command(ImportFileCommand):
    help = "Import events (JSON Lines or CSV, optionally .gz); re-importing never double-counts."
    label = "events"
    service = events_ingest

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--rating-scale",
            choices=[AUTO, *SCALES],
            default=AUTO,
            help="the scale of the file's ratings, mapped onto 1-5 (default: inferred from the first 20,000 rows)",
        )

    def service_options(self, options: dict) -> dict:
        return {"rating_scale": options["rating_scale"]}
