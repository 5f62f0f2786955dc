"""`manage.py import_catalog FILE`: upsert products from a JSON Lines or CSV file."""

from __future__ import annotations

from django.core.management.base import CommandParser

from catalog.dispatch import products_changed
from catalog.importing.products import products_upsert
from catalog.importing.report import ImportReport
from catalog.management.commands._import_file import ImportFileCommand


class Command(ImportFileCommand):
    help = "Import products (JSON Lines or CSV, optionally .gz). Bad rows are reported, good rows kept."
    label = "products"
    service = products_upsert

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--no-embed-request", action="store_true", help="do not ask the worker to embed")

    def after_import(self, *, report: ImportReport, options: dict) -> None:
        if report.created or report.updated:
            said = products_changed(request_embed=not options["no_embed_request"])
            if said:
                self.stdout.write(said)
