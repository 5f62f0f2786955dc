from django.core.management.base import BaseCommand

from recommendations.reasons.generation import stale_reasons_prune


class Command(BaseCommand):
    help = "Delete cached reasons written from catalog facts that have changed since (the daily beat task's job)."

    def handle(self, *args, **options) -> None:
        self.stdout.write(f"{stale_reasons_prune()} stale reasons deleted")
