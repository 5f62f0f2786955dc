"""`manage.py train_reason_adapter`: fine-tune the reason model with LoRA, check it offline, store a version."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from recommendations.reasons.adapters import (
    HELDOUT_SHARE,
    AdapterCheckError,
    AdapterError,
    adapter_activate,
    adapter_train,
    adapter_verdict,
)


class Command(BaseCommand):
    help = (
        "Train a LoRA adapter of the local reason model on instruction examples from purchase histories, check it "
        "against the base model on held-out customers (held-out loss, guardrail pass rate) and store it as a new, "
        "inactive version; --activate serves it if it passed the check (--force: regardless). Runs here: the admin's "
        "*Train a new version* runs it on a gpu worker."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--steps", type=int, default=100, help="optimizer steps (default 100)")
        parser.add_argument("--limit", type=int, default=None, help="at most this many examples (customers)")
        parser.add_argument("--batch-size", type=int, default=4)
        parser.add_argument(
            "--heldout-share", type=float, default=HELDOUT_SHARE, help=f"share held out (default {HELDOUT_SHARE})"
        )
        parser.add_argument("--activate", action="store_true", help="serve the new version if it passed its check")
        parser.add_argument("--force", action="store_true", help="with --activate: serve it even if it failed")

    def handle(self, *args, **options) -> None:
        if options["limit"] is not None and options["limit"] < 2:
            raise CommandError("--limit must be at least 2 (one example is held out)")
        if options["batch_size"] < 1 or not 0 < options["heldout_share"] < 1:
            raise CommandError("--batch-size must be at least 1 and --heldout-share between 0 and 1")
        try:
            adapter = adapter_train(
                steps=options["steps"],
                limit=options["limit"],
                batch_size=options["batch_size"],
                heldout_share=options["heldout_share"],
            )
        except AdapterError as exc:
            raise CommandError(str(exc)) from exc
        passed, words = adapter_verdict(adapter)
        self.stdout.write(
            f"{adapter} on {adapter.base_model}: {adapter.examples} examples, {adapter.steps} steps on "
            f"{adapter.device} in {adapter.training_seconds:.1f} s, loss {adapter.first_loss:.3f} -> "
            f"{adapter.last_loss:.3f}\ncheck on {adapter.heldout_examples} held-out examples, "
            f"{adapter.check_prompts} prompts: {'PASSED' if passed else 'FAILED'}: {words}\nin {adapter.path}"
        )
        if options["activate"]:
            try:
                adapter = adapter_activate(adapter_id=adapter.pk, force=options["force"])
            except AdapterCheckError as exc:
                raise CommandError(f"{exc}; it is stored inactive (--force activates it anyway)") from exc
            except AdapterError as exc:
                raise CommandError(f"{exc}; it is stored inactive") from exc
            self.stdout.write(f"activated {adapter}: reasons are now written as {adapter.served().label}")
