"""`manage.py adapt_embeddings`: fine-tune the sentence model on the shop's co-occurrence pairs."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from recommendations.embeddings.adaptation import EPOCHS, MAX_PAIRS, embedding_adapt


class Command(BaseCommand):
    help = (
        "Fine-tune the embedding model contrastively on item-CF pairs of all stored events and store it as a new "
        "version (serve it by setting EMBEDDING_MODEL to its directory, then `manage.py embed`)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--max-pairs", type=int, default=MAX_PAIRS, help=f"pairs used at most (default {MAX_PAIRS})"
        )
        parser.add_argument("--epochs", type=int, default=EPOCHS)

    def handle(self, *args, **options) -> None:
        if options["max_pairs"] < 2 or options["epochs"] < 1:
            raise CommandError("--max-pairs must be at least 2 and --epochs at least 1")
        try:
            adapted = embedding_adapt(max_pairs=options["max_pairs"], epochs=options["epochs"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"{adapted}: {adapted.steps} steps on {adapted.device} in {adapted.training_seconds:.0f} s, "
            f"loss {adapted.first_loss:.3f} -> {adapted.last_loss:.3f}\n"
            f"serve it: EMBEDDING_MODEL={adapted.path} manage.py embed"
        )
