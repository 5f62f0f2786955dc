from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.services import api_key_create, api_keys_revoke_named


class Command(BaseCommand):
    help = "Create a storefront API key and print it (only its hash is stored)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("name")
        parser.add_argument(
            "--scope",
            action="append",
            dest="scopes",
            help="repeatable; default: all scopes",
        )
        parser.add_argument(
            "--replace",
            action="store_true",
            help="revoke the active keys of this name first (a re-run demo keeps one valid key, not one per run)",
        )

    def handle(self, *args, name: str, scopes: list[str] | None, replace: bool, **options) -> None:
        try:
            with transaction.atomic():
                if replace:
                    api_keys_revoke_named(name=name)
                _, raw_key = api_key_create(name=name, scopes=scopes)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(raw_key)
