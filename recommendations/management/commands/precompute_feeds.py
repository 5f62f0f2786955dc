"""`manage.py precompute_feeds`: compute the home-feed candidates of the most recently active
customers ahead of their requests (after a rebuild of the routes' tables, which makes the kept
ones unused)."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from recommendations.feeds.service import feeds_precompute, recently_active
from recsite.memory import peak_rss_mb


class Command(BaseCommand):
    help = (
        "Compute the home feed's personal candidates of the most recently active customers (or of "
        "--customer ids) ahead of their requests; they are kept RECALL_AHEAD_SECONDS."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--customers",
            type=int,
            default=settings.RECALL_AHEAD_ACTIVE_CUSTOMERS,
            help="how many of the most recently active customers (default RECALL_AHEAD_ACTIVE_CUSTOMERS)",
        )
        parser.add_argument("--customer", action="append", default=[], help="a customer's external id (repeatable)")

    def handle(self, *args, **options) -> None:
        if settings.RECALL_AHEAD_SECONDS <= 0:
            raise CommandError("RECALL_AHEAD_SECONDS is 0: candidates computed ahead are turned off")
        if options["customers"] < 0:
            raise CommandError(f"--customers must not be negative, not {options['customers']}")
        customer_ids = options["customer"] or recently_active(limit=options["customers"])
        report = feeds_precompute(customer_ids=customer_ids)
        each = report.seconds / report.customers * 1000 if report.customers else 0.0
        self.stdout.write(
            f"{report.customers} customers, {report.entries} entries kept in {report.seconds:.1f} s"
            f" ({each:.1f} ms a customer); peak RSS {peak_rss_mb():,.0f} MB"
        )
