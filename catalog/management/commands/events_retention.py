"""`manage.py events_retention --older-than-months N [--dry-run]`: drop old months of events."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalog.partitions import event_retention


class Command(BaseCommand):
    help = (
        "Drop the monthly event partitions older than N months before the current one (whole partitions:"
        " fast), and such events in the DEFAULT partition; the current month and the N before it are kept."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--older-than-months", type=int, required=True, metavar="N", help="at least 1")
        parser.add_argument("--dry-run", action="store_true", help="only say what would be dropped")

    def handle(self, *args, **options) -> None:
        try:
            report = event_retention(older_than_months=options["older_than_months"], dry_run=options["dry_run"])
        except ValueError as error:
            raise CommandError(str(error)) from error
        verb = "would drop" if report.dry_run else "dropped"
        for partition in report.dropped:
            self.stdout.write(f"{verb} {partition.name}: {partition.rows} events")
        if report.default_rows:
            self.stdout.write(f"{verb} {report.default_rows} events from the DEFAULT partition")
        self.stdout.write(
            f"events before {report.cutoff:%Y-%m}: {verb} {len(report.dropped)} partitions, {report.rows} events"
        )
