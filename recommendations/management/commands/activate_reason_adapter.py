"""`manage.py activate_reason_adapter VERSION [--force]` or `--rollback`: serve a reason adapter version."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from recommendations.reasons.adapters import AdapterError, adapter_activate, adapter_rollback
from recommendations.reasons.models import ReasonAdapter


class Command(BaseCommand):
    help = (
        "Serve reason adapter VERSION if it passed its offline check (--force: regardless), or --rollback: retire "
        "the active version and serve the one it replaced (the base model alone if none)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("version", type=int, nargs="?")
        parser.add_argument("--force", action="store_true", help="activate even if its check did not pass")
        parser.add_argument("--rollback", action="store_true")

    def handle(self, *args, version: int | None, force: bool, rollback: bool, **options) -> None:
        if rollback == (version is not None):
            raise CommandError("give a VERSION to activate, or --rollback")
        try:
            if rollback:
                retired, served = adapter_rollback()
                self.stdout.write(f"retired v{retired.version}; serving {served or 'the base model alone'}")
                return
            adapter = ReasonAdapter.objects.filter(version=version).first()
            if adapter is None:
                raise CommandError(f"no reason adapter v{version}")
            adapter = adapter_activate(adapter_id=adapter.pk, force=force)
        except AdapterError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"activated {adapter}: reasons are now written as {adapter.served().label}")
