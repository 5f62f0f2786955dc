"""`manage.py load_demo`: load the real UCI Online Retail transactions as the demo catalog."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalog.dispatch import products_changed
from catalog.importing.online_retail import demo_load
from catalog.importing.report import report_summary
from recsite.cli import iso_time

FULL_FILE = settings.BASE_DIR.parent / "shared/datasets/online-retail/online_retail_2010-12_2011-12.csv.gz"
SUBSET_FILE = settings.BASE_DIR / "data/online-retail/online_retail_subset.csv.gz"


def default_source() -> Path:
    """The full file where the shared datasets are present, else the subset kept in the repo."""
    return FULL_FILE if FULL_FILE.exists() else SUBSET_FILE


class Command(BaseCommand):
    help = "Load the UCI Online Retail data (products, customers, purchase events). Running it twice changes nothing."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--source",
            type=Path,
            help=f"CSV(.gz) in the Online Retail columns (default: {FULL_FILE} if present, else {SUBSET_FILE})",
        )
        parser.add_argument("--limit-customers", type=int, help="keep only the first N customers of the file")
        parser.add_argument(
            "--until",
            type=iso_time,
            help="store only the events before this ISO time (the catalog is loaded whole); see --holdout",
        )
        parser.add_argument(
            "--holdout",
            type=Path,
            help="with --until: write the later events here (JSON Lines) for simulate_traffic",
        )
        parser.add_argument("--no-embed-request", action="store_true", help="do not ask the worker to embed")

    def handle(self, *args, **options) -> None:
        source = options["source"] or default_source()
        if options["limit_customers"] is not None and options["limit_customers"] < 1:
            raise CommandError("--limit-customers must be at least 1")
        if options["holdout"] and not options["until"]:
            raise CommandError("--holdout needs --until")
        self.stdout.write(f"loading {source}")
        try:
            result = demo_load(
                source=source,
                limit_customers=options["limit_customers"],
                until=options["until"],
                holdout=options["holdout"],
            )
        except (OSError, EOFError, ValueError) as exc:
            raise CommandError(f"cannot read {source}: {exc}") from exc
        dropped = ", ".join(f"{reason} {count}" for reason, count in result.dropped.items()) or "none"
        self.stdout.write(f"lines read {result.lines_read}, kept {result.lines_kept}; dropped: {dropped}")
        for label, report in (
            ("products", result.products),
            ("customers", result.customers),
            ("events", result.events),
        ):
            self.stdout.write("\n".join(report_summary(report, label=label)))
        if options["until"]:
            target = options["holdout"] or "nowhere (no --holdout)"
            self.stdout.write(
                f"held out {result.held_out} events at or after {options['until']:%Y-%m-%d %H:%M}: {target}"
            )
        self.stdout.write(f"done in {result.duration_s:.1f} s")
        if result.products.created or result.products.updated:
            said = products_changed(request_embed=not options["no_embed_request"])
            if said:
                self.stdout.write(said)
