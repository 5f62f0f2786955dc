from django.core.management.base import BaseCommand, CommandError

from accounts.services import api_key_create


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

    def handle(self, *args, name: str, scopes: list[str] | None, **options) -> None:
        try:
            _, raw_key = api_key_create(name=name, scopes=scopes)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(raw_key)
