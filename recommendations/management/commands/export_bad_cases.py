from pathlib import Path

from django.core.management.base import BaseCommand, CommandParser

from recommendations.badcases.models import BadCaseStatus
from recommendations.badcases.replay import regression_set, regression_set_write


class Command(BaseCommand):
    help = "Write the resolved bad cases as a regression set (JSON Lines)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("out", type=Path)
        parser.add_argument(
            "--status", action="append", choices=BadCaseStatus.values, help="default: resolved (repeatable)"
        )

    def handle(self, *args, **options) -> None:
        statuses = options["status"] or [BadCaseStatus.RESOLVED]
        count = regression_set_write(lines=regression_set(statuses=statuses), path=options["out"])
        self.stdout.write(f"{count} cases written to {options['out']}")
