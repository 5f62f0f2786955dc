"""`manage.py import_events FILE`: ingest behaviour events from a JSON Lines or CSV file."""

from __future__ import annotations

from catalog.importing.events import events_ingest
from catalog.management.commands._import_file import ImportFileCommand


class Command(ImportFileCommand):
    help = "Import events (JSON Lines or CSV, optionally .gz); re-importing never double-counts."
    label = "events"
    service = events_ingest
