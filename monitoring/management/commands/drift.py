"""`manage.py drift reference --end 2011-10-01` builds the drift reference from the events before
`--end`; `manage.py drift check --start 2011-10-01 --end 2012-01-01` compares a window with it
and prints (and stores) the scores; `--json out.json` writes them too. Both print their memory
plan first (DRIFT_MEMORY_BUDGET_MB, or `--memory-budget-mb`) and their peak last."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from monitoring.budget import drift_plan
from monitoring.distributions import Window
from monitoring.services import NoReference, drift_check, drift_reference_build
from recommendations.public import sample_rule
from recsite.memory import MB, MemoryBudgetError, MemoryPlan, peak_rss_mb


def _when(value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    parsed = parse_datetime(value) or parse_datetime(f"{value}T00:00:00")
    if parsed is None:
        raise CommandError(f"not an ISO date or time: {value!r}")
    return parsed if timezone.is_aware(parsed) else parsed.replace(tzinfo=dt.UTC)


class Command(BaseCommand):
    help = "Build the embedding drift reference, or check a window against it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["reference", "check"])
        parser.add_argument("--start", help="window start (ISO); reference: from the first event when left out")
        parser.add_argument("--end", help="window end (ISO, exclusive); default now")
        parser.add_argument("--json", dest="json_path", type=Path, help="write the check's scores here")
        parser.add_argument(
            "--memory-budget-mb",
            type=int,
            help="peak memory allowed (default DRIFT_MEMORY_BUDGET_MB); over it a seeded share of the "
            "customers is used, and the command says so",
        )

    def handle(
        self,
        *args,
        action: str,
        start: str | None,
        end: str | None,
        json_path: Path | None,
        memory_budget_mb: int | None,
        **options,
    ) -> None:
        window_start, window_end = _when(start), _when(end) or timezone.now()
        if action == "check" and window_start is None:
            raise CommandError("check needs --start")
        try:
            plan = drift_plan(window=Window(start=window_start, end=window_end), budget_mb=memory_budget_mb)
        except MemoryBudgetError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(plan.describe())
        if plan.sampled:
            self.stdout.write(f"sample: {sample_rule(plan)}")
        if action == "reference":
            reference = drift_reference_build(
                window_start=window_start, window_end=window_end, customer_share=plan.share
            )
            sizes = ", ".join(f"{signal} {len(values)}" for signal, values in reference.samples.items())
            self.stdout.write(f"reference {reference.pk} ({reference.model_name}): {sizes}")
            self._peak(plan)
            return
        try:
            reports = drift_check(window_start=window_start, window_end=window_end, customer_share=plan.share)
        except NoReference as exc:
            raise CommandError(str(exc)) from exc
        rows = [
            {
                "signal": r.signal,
                "psi": round(r.psi, 4),
                "ks": round(r.ks_statistic, 4),
                "ks_p": r.ks_p_value,
                "mean_shift": None if r.mean_shift is None else round(r.mean_shift, 4),
                "n_ref": r.n_reference,
                "n_cur": r.n_current,
                "alert": r.alert,
                "model": r.model_name,
            }
            for r in reports
        ]
        for row in rows:
            self.stdout.write("  ".join(f"{key}={value}" for key, value in row.items()))
        if json_path is not None:
            json_path.write_text(json.dumps(rows, indent=2))
        self._peak(plan)

    def _peak(self, plan: MemoryPlan) -> None:
        self.stdout.write(f"peak memory {peak_rss_mb():,.0f} MB (estimated {plan.planned_bytes / MB:,.0f} MB)")
