import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from recommendations.badcases.models import BadCaseStatus
from recommendations.badcases.replay import badcase_replay, regression_set, regression_set_read


class Command(BaseCommand):
    help = "Re-run resolved bad cases against the current strategy: which are fixed, which still fail."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--file", type=Path, help="a regression set (JSON Lines); default: resolved cases")
        parser.add_argument("--status", action="append", choices=BadCaseStatus.values, help="default: resolved")
        parser.add_argument("--json", type=Path, help="write the outcomes here")
        parser.add_argument("--quiet", action="store_true", help="only the summary")

    def handle(self, *args, **options) -> None:
        if options["file"]:
            try:
                cases = regression_set_read(path=options["file"])
            except (OSError, ValueError) as exc:
                raise CommandError(f"cannot read {options['file']}: {exc}") from exc
        else:
            cases = list(regression_set(statuses=options["status"] or [BadCaseStatus.RESOLVED]))
        outcomes = [badcase_replay(case=case) for case in cases]
        if not options["quiet"]:
            for o in outcomes:
                verdict = "FIXED " if o.fixed else "FAILS "
                self.stdout.write(
                    f"{verdict} #{o.case_id:<6} {o.source:<20} {o.placement:<14} {o.product_id:<12} {o.detail}"
                )
        fixed = sum(o.fixed for o in outcomes)
        summary = {"replayed": len(outcomes), "fixed": fixed, "still_failing": len(outcomes) - fixed}
        self.stdout.write(
            f"{summary['replayed']} cases replayed: {summary['fixed']} fixed, {summary['still_failing']} still failing"
        )
        if options["json"]:
            rows = [o.__dict__ for o in outcomes]
            options["json"].write_text(json.dumps({**summary, "cases": rows}, indent=1))
