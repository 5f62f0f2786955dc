"""`manage.py train_ranker`: train a LambdaMART ranker on the stored events and store a new version."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from recommendations.ranking.features import FEATURE_SETS
from recommendations.ranking.training import importance_top, ranker_activate, ranker_train
from recsite.cli import iso_time


class Command(BaseCommand):
    help = "Train a ranker (features before a label time, labels after it) and store it as a new, inactive version."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--feature-set", choices=sorted(FEATURE_SETS), default="semantic")
        parser.add_argument(
            "--as-of", type=iso_time, help="ISO time: train only on events before it (default: all events)"
        )
        parser.add_argument("--name", help="ranker name (default: the feature set's name)")
        parser.add_argument("--activate", action="store_true", help="make the new version the active one")

    def handle(self, *args, **options) -> None:
        as_of = options["as_of"].timestamp() if options["as_of"] else None
        try:
            ranker = ranker_train(feature_set=options["feature_set"], as_of=as_of, name=options["name"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if options["activate"]:
            ranker = ranker_activate(ranker_id=ranker.pk)
        top = ", ".join(f"{name} {gain:.0f}" for name, gain in importance_top(importance=ranker.feature_importance))
        self.stdout.write(
            f"{ranker}: validation NDCG@10 {ranker.validation_metrics['ndcg@10']:.4f} "
            f"({ranker.validation_metrics['best_iteration']} trees), {ranker.data_windows['lists']} lists, "
            f"{ranker.training_seconds:.1f} s on {ranker.device}\ntop features by gain: {top}"
        )
