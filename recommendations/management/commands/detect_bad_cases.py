from django.core.management.base import BaseCommand, CommandParser

from recommendations.badcases.detectors import badcases_detect


class Command(BaseCommand):
    help = "Scan the served lists not yet seen and file bad cases (out of stock, already bought, low relevance)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--limit", type=int, default=20000, help="at most this many lists")

    def handle(self, *args, **options) -> None:
        report = badcases_detect(limit=options["limit"])
        found = ", ".join(f"{source}: {n}" for source, n in sorted(report.cases.items())) or "none"
        self.stdout.write(f"{report.lists_scanned} served lists scanned; bad cases filed: {found}")
