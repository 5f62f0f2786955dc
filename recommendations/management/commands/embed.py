"""`manage.py embed`: embed the products whose embedding is missing or stale, with a progress bar."""

from __future__ import annotations

import argparse

from django.core.management.base import BaseCommand, CommandParser
from tqdm import tqdm

from recommendations.embeddings.service import embed_products, products_to_embed


def positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {value}")
    return number


class Command(BaseCommand):
    help = "Embed products whose embedding is missing or stale (same service as the Celery task)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=positive_int, default=None, help="model batch size")
        parser.add_argument("--limit", type=positive_int, default=None, help="embed at most N products")

    def handle(self, *args, batch_size: int | None, limit: int | None, **options) -> None:
        total = products_to_embed().count()
        if limit is not None:
            total = min(total, limit)
        with tqdm(total=total, unit="item", disable=options["verbosity"] == 0) as bar:
            report = embed_products(batch_size=batch_size, limit=limit, progress=bar.update)
        self.stdout.write(
            f"embedded {report.embedded}, skipped {report.skipped} with {report.model_name} on {report.device} "
            f"in {report.duration_s:.1f} s ({report.items_per_s:.1f} items/s)"
        )
