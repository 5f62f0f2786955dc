"""Import throughput: products_upsert and events_ingest on the real UCI Online Retail data.

Products (stock codes) and purchase events (invoice lines) come from the Online Retail file in
../shared/datasets (or the repo's subset). Each is imported cold (new rows) and warm (the same
rows again, all unchanged / duplicates), from rows in memory (the REST API's path) and, for
events, from a JSON Lines file (the `import_events` path). Everything runs in a scratch database
(`recsite_bench_import`, created and migrated here, dropped after); results go to
bench/results/import.json.

    .venv/bin/python bench/import_bench.py [--limit-events N]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from itertools import islice
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# The scratch database is Django's test database under this name, on whatever server the
# settings point at; it is created, migrated and dropped by this script.
os.environ["RECSITE_TEST_DB"] = "recsite_bench_import"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "recsite.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402

from bench.common import print_table, write_results  # noqa: E402
from catalog.importing.customers import customers_upsert  # noqa: E402
from catalog.importing.events import events_ingest  # noqa: E402
from catalog.importing.online_retail import RetailReader, online_retail_catalog, online_retail_events  # noqa: E402
from catalog.importing.products import products_upsert  # noqa: E402
from catalog.importing.readers import read_rows  # noqa: E402
from catalog.importing.report import ImportReport  # noqa: E402
from catalog.management.commands.load_demo import default_source  # noqa: E402


def row(what: str, source: str, phase: str, report: ImportReport) -> dict:
    return {
        "what": what,
        "source": source,
        "phase": phase,
        "rows": report.received,
        "created": report.created,
        "unchanged": report.unchanged,
        "errors": len(report.errors),
        "seconds": round(report.duration_s, 3),
        "rows_per_s": round(report.rows_per_s),
    }


def run(*, source: Path, limit_events: int | None) -> list[dict]:
    started = time.perf_counter()
    product_rows, customer_rows = online_retail_catalog(lines=RetailReader(path=source).lines())
    event_rows = list(islice(online_retail_events(lines=RetailReader(path=source).lines()), limit_events))
    elapsed = time.perf_counter() - started
    print(f"read {source.name}: {len(product_rows)} products, {len(event_rows)} events ({elapsed:.1f} s)")

    results = [
        row("products", "memory", "cold", products_upsert(rows=product_rows)),
        row("products", "memory", "warm", products_upsert(rows=product_rows)),
    ]
    customers_upsert(rows=customer_rows)
    results.append(row("events", "memory", "cold", events_ingest(rows=event_rows)))
    results.append(row("events", "memory", "warm", events_ingest(rows=event_rows)))

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in event_rows))
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE catalog_event")
            cursor.execute("VACUUM ANALYZE catalog_event")
        results.append(row("events", "jsonl file", "cold", events_ingest(rows=read_rows(path))))
        results.append(row("events", "jsonl file", "warm", events_ingest(rows=read_rows(path))))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=default_source(), help="Online Retail CSV(.gz)")
    parser.add_argument("--limit-events", type=int, default=None, help="import only the first N events")
    args = parser.parse_args()

    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        results = run(source=args.source, limit_events=args.limit_events)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
    print_table(results)
    path = write_results("import", results, {"source": str(args.source), "limit_events": args.limit_events})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
