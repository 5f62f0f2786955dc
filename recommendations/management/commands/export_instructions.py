"""`manage.py export_instructions out.jsonl [--limit N]`: instruction data for LoRA fine-tuning."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from recommendations.reasons.instructions import instructions_export


class Command(BaseCommand):
    help = "Write JSON Lines {instruction, input, output} built from purchase histories (for LoRA fine-tuning)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument("--limit", type=int, default=None, help="At most this many examples (customers).")

    def handle(self, *args, path: Path, limit: int | None, **options) -> None:
        if limit is not None and limit < 1:
            raise CommandError("--limit must be at least 1")
        if not path.parent.exists():
            raise CommandError(f"no directory {path.parent}")
        count = instructions_export(path=path, limit=limit)
        self.stdout.write(f"wrote {count} examples to {path}")
