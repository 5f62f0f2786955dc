"""`manage.py embed`: embed the products whose embedding is missing or stale, with a progress bar,
in chunks and batches sized to the memory budget."""

from __future__ import annotations

import argparse

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from recommendations.embeddings.budget import embed_plan
from recommendations.embeddings.service import embed_products, products_to_embed
from recsite.memory import MB, MemoryBudgetError


def positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {value}")
    return number


class Command(BaseCommand):
    help = "Embed products whose embedding is missing or stale (same service as the Celery task)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=positive_int, default=None, help="model batch size (at most)")
        parser.add_argument("--limit", type=positive_int, default=None, help="embed at most N products")
        parser.add_argument(
            "--memory-budget-mb",
            type=positive_int,
            help="memory the job may add to its process (default EMBEDDING_MEMORY_BUDGET_MB); the chunk and batch "
            "shrink to fit it",
        )

    def handle(self, *args, batch_size: int | None, limit: int | None, memory_budget_mb: int | None, **options) -> None:
        try:
            plan = embed_plan(
                pending=products_to_embed(), budget_mb=memory_budget_mb, batch_size=batch_size, limit=limit
            )
        except MemoryBudgetError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(plan.describe())
        with tqdm(total=plan.pending, unit="item", disable=options["verbosity"] == 0) as bar:
            report = embed_products(batch_size=batch_size, limit=limit, progress=bar.update, plan=plan)
        self.stdout.write(
            f"embedded {report.embedded}, skipped {report.skipped} with {report.model_name} on {report.device} "
            f"in {report.duration_s:.1f} s ({report.items_per_s:.1f} items/s)"
        )
        # The estimate is of what the job adds: the process's peak (ru_maxrss) less what it held when
        # the plan began, at most (the peak could predate the job in a process that did more before).
        added = report.peak_rss_mb - plan.process_bytes / MB
        self.stdout.write(
            f"peak memory {report.peak_rss_mb:,.0f} MB, {added:,.0f} MB over the process at the start "
            f"(estimated {plan.estimate_bytes / MB:,.0f} MB)"
        )
