"""`manage.py build_neighbors`: rebuild item-CF and co-purchase neighbours, popularity and the
collaborative route from all stored events."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandParser

from recommendations.recall.collaborative import ALS, EASE, collaborative_rebuild
from recommendations.recall.copurchase import copurchase_rebuild
from recommendations.recall.itemcf import DEFAULT_NEIGHBORS, itemcf_neighbors_rebuild
from recommendations.recall.popularity import popularity_rebuild


class Command(BaseCommand):
    help = (
        "Rebuild the item-CF and co-purchase neighbour tables and the popularity table, and fit a new "
        "served version of the collaborative route (safe to run again)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--neighbors", type=int, default=DEFAULT_NEIGHBORS, help="neighbours kept per item")
        parser.add_argument(
            "--collaborative",
            choices=[EASE, ALS, "auto", "none"],
            default="auto",
            help="the collaborative route's learner (auto: EASE while it fits the memory budget, else ALS)",
        )

    def handle(self, *args, **options) -> None:
        started = time.perf_counter()
        neighbors = itemcf_neighbors_rebuild(n_neighbors=max(1, options["neighbors"]))
        self.stdout.write(f"item neighbours: {neighbors} rows ({time.perf_counter() - started:.1f} s)")
        started = time.perf_counter()
        copurchased = copurchase_rebuild(n_neighbors=max(1, options["neighbors"]))
        self.stdout.write(f"co-purchase neighbours: {copurchased} rows ({time.perf_counter() - started:.1f} s)")
        started = time.perf_counter()
        popular = popularity_rebuild()
        self.stdout.write(f"item popularity: {popular} rows ({time.perf_counter() - started:.1f} s)")
        if options["collaborative"] == "none":
            return
        started = time.perf_counter()
        model = collaborative_rebuild(
            algorithm=None if options["collaborative"] == "auto" else options["collaborative"]
        )
        self.stdout.write(f"{model}: {model.neighbor_rows} neighbour rows ({time.perf_counter() - started:.1f} s)")
