"""`manage.py train_ranker`: train a LambdaMART ranker on the stored events and store a new version."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from recommendations.ranking.budget import ranker_plan
from recommendations.ranking.features import FEATURE_SETS
from recommendations.ranking.training import RankerGateError, importance_top, ranker_activate, ranker_gate, ranker_train
from recommendations.recall.budget import sample_rule
from recsite.cli import iso_time
from recsite.memory import MB, MemoryBudgetError, peak_rss_mb, rss_mb


class Command(BaseCommand):
    help = (
        "Train a ranker on lists cut from each customer's own history and store it as a new, inactive version; "
        "--activate serves it if it beats the fused order on its held-out lists (--force: regardless)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--feature-set", choices=sorted(FEATURE_SETS), default="semantic")
        parser.add_argument(
            "--as-of", type=iso_time, help="ISO time: train only on events before it (default: all events)"
        )
        parser.add_argument("--name", help="ranker name (default: the feature set's name)")
        parser.add_argument("--activate", action="store_true", help="make the new version the active one")
        parser.add_argument(
            "--force", action="store_true", help="with --activate: activate even below the fused baseline"
        )
        parser.add_argument(
            "--memory-budget-mb",
            type=int,
            help="peak memory allowed (default RANKER_MEMORY_BUDGET_MB); over it a seeded share of the "
            "customers is loaded, and the command says so",
        )

    def handle(self, *args, **options) -> None:
        as_of = options["as_of"]
        process_mb = rss_mb()
        try:
            plan = ranker_plan(until=as_of, budget_mb=options["memory_budget_mb"])
        except MemoryBudgetError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(plan.describe())
        if plan.sampled:
            self.stdout.write(f"sample: {sample_rule(plan)}")
        try:
            ranker = ranker_train(
                feature_set=options["feature_set"],
                as_of=as_of.timestamp() if as_of else None,
                name=options["name"],
                plan=plan,
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        top = ", ".join(f"{name} {gain:.0f}" for name, gain in importance_top(importance=ranker.feature_importance))
        windows = ranker.data_windows
        _, gate = ranker_gate(validation_metrics=ranker.validation_metrics)
        self.stdout.write(
            f"{ranker}: {gate} ({ranker.validation_metrics['trees']} trees)\n"
            f"training lists ({windows['cut']}, {windows['rounds']} round(s)): {windows['lists']} lists, "
            f"{windows['rows']} rows, {windows['positives']} positives ({windows['sample_rule']}); "
            f"{ranker.training_seconds:.1f} s on "
            f"{ranker.device}\ntop features by gain: {top}"
        )
        # The plan is of what the job adds: the peak (ru_maxrss) less what the process held before it.
        peak = peak_rss_mb()
        self.stdout.write(
            f"peak memory {peak:,.0f} MB, {peak - process_mb:,.0f} MB over the process at the start "
            f"(estimated {plan.planned_bytes / MB:,.0f} MB)"
        )
        if options["activate"]:
            try:
                ranker = ranker_activate(ranker_id=ranker.pk, force=options["force"])
            except RankerGateError as exc:
                raise CommandError(f"{exc}; it is stored inactive (--force activates it anyway)") from exc
            self.stdout.write(f"activated {ranker}")
