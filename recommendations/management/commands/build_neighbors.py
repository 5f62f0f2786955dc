"""`manage.py build_neighbors`: rebuild item-CF neighbours and popularity from all stored events."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandParser

from recommendations.recall.itemcf import DEFAULT_NEIGHBORS, itemcf_neighbors_rebuild
from recommendations.recall.popularity import popularity_rebuild


class Command(BaseCommand):
    help = "Rebuild the item-CF neighbour table and the popularity table (safe to run again)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--neighbors", type=int, default=DEFAULT_NEIGHBORS, help="neighbours kept per item")

    def handle(self, *args, **options) -> None:
        started = time.perf_counter()
        neighbors = itemcf_neighbors_rebuild(n_neighbors=max(1, options["neighbors"]))
        self.stdout.write(f"item neighbours: {neighbors} rows ({time.perf_counter() - started:.1f} s)")
        started = time.perf_counter()
        popular = popularity_rebuild()
        self.stdout.write(f"item popularity: {popular} rows ({time.perf_counter() - started:.1f} s)")
