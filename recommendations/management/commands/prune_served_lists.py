from django.core.management.base import BaseCommand, CommandParser

from recommendations.served import served_lists_prune


class Command(BaseCommand):
    help = "Delete served lists older than SERVED_LIST_RETENTION_DAYS (or --days)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, help="override the retention")

    def handle(self, *args, **options) -> None:
        self.stdout.write(f"{served_lists_prune(days=options['days'])} served lists deleted")
