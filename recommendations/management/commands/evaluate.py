"""`manage.py evaluate`: DESIGN.md's offline evaluation protocol over the stored events."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from recommendations.evaluation.runner import EvaluationConfig, EvaluationError
from recommendations.evaluation.service import evaluation_execute
from recommendations.evaluation.split import DEFAULT_TEST_FRACTION
from recommendations.evaluation.strategies import STRATEGIES
from recsite.cli import iso_time


class Command(BaseCommand):
    help = (
        "Evaluate popularity, item-CF, semantic, fused and ALS offline (train before the cutoff, "
        "test after it) and store the run."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        split = parser.add_mutually_exclusive_group()
        split.add_argument(
            "--cutoff",
            type=iso_time,
            help="ISO time: events before it train, events at or after it test "
            f"(default: the time that leaves the last {DEFAULT_TEST_FRACTION:.0%}% of events for testing)",
        )
        split.add_argument("--holdout-last", type=int, help="each user's last N positive events test, the rest train")
        parser.add_argument("--k", type=int, default=10, help="list length the metrics look at (default 10)")
        parser.add_argument("--json", type=Path, help="also write the result to this JSON file")
        parser.add_argument(
            "--include-seen", action="store_true", help="keep items seen in training in the truth and the rankings"
        )
        parser.add_argument(
            "--strategies",
            default=",".join(STRATEGIES),
            help=f"comma-separated subset of {','.join(STRATEGIES)} (default: all)",
        )
        parser.add_argument("--seed", type=int, default=42, help="the rankers' training seed (default 42)")

    def handle(self, *args, **options) -> None:
        config = EvaluationConfig(
            k=options["k"],
            cutoff=options["cutoff"].timestamp() if options["cutoff"] else None,
            holdout_last=options["holdout_last"],
            include_seen=options["include_seen"],
            strategies=tuple(s.strip() for s in options["strategies"].split(",") if s.strip()),
            seed=options["seed"],
        )
        try:
            result, run = evaluation_execute(config=config)
        except EvaluationError as exc:
            raise CommandError(str(exc)) from exc
        payload = {"protocol": result.protocol, "strategies": result.strategies}
        if options["json"]:
            try:
                options["json"].write_text(json.dumps(payload, indent=2) + "\n")
            except OSError as exc:
                raise CommandError(f"cannot write {options['json']}: {exc}") from exc
        self.stdout.write(self._table(result.protocol, result.strategies, k=config.k))
        self.stdout.write(f"stored as evaluation run {run.pk} ({run.duration_s:.1f} s)")

    @staticmethod
    def _table(protocol: dict, strategies: dict, *, k: int) -> str:
        split = f"cutoff {protocol['cutoff']}" if protocol["split"] == "cutoff" else f"last {protocol['holdout_last']}"
        columns = [f"recall@{k}", f"ndcg@{k}", f"hitrate@{k}", "mrr", "coverage"]
        lines = [
            f"{split}; {protocol['users_evaluated']} users, {protocol['train_events']} training events, "
            f"{protocol['catalog_items']} items",
            f"{'strategy':<20}" + "".join(f"{c:>12}" for c in columns) + f"{'seconds':>10}",
        ]
        for name, metrics in strategies.items():
            lines.append(
                f"{name:<20}" + "".join(f"{metrics[c]:>12.4f}" for c in columns) + f"{metrics['seconds']:>10.1f}"
            )
        rankers = protocol.get("rankers", {})
        if "skipped" in rankers:
            lines.append(f"rankers not trained: {rankers['skipped']}")
        elif "training" in rankers:
            training = rankers["training"]
            lines.append(
                f"ranker training lists ({training['cut']}, {training['rounds']} round(s), seed {training['seed']}): "
                f"{training['lists']} lists, {training['rows']} rows, {training['positives']} positives "
                f"from {training['customers_sampled']} sampled of {training['customers_with_labels']} customers "
                f"({training['sample_rule']})"
            )
        cf = protocol.get("collaborative")
        if cf:
            lines.append(f"collaborative route: {cf['algorithm']} {cf['params']} in {cf['seconds']:.1f} s")
        lines.append(f"wall time {protocol['seconds']:.1f} s, peak memory {protocol['peak_rss_mb']:.0f} MB")
        return "\n".join(lines)
