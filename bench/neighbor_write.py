"""Writing a neighbour table, as a rebuild does: `neighbor_rows_write` (binary COPY, block by block)
into the live item-CF table after deleting its rows, with whatever constraints and indexes the table
has, and the checks deferred to the commit run before it (`SET CONSTRAINTS ALL IMMEDIATE`); then
rolled back, so the database is left as it was. Generated rows: `--rows` neighbours, 100 for each
item, of the database's products.

Against `bench/api_latency.py`'s database of a size (`recsite_bench_<size>`) or `DATABASE_URL`:

    .venv/bin/python bench/neighbor_write.py --size 1000000 [--rows 1000000]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.api_latency import setup_django  # noqa: E402
from bench.common import print_table, write_results  # noqa: E402

PER_ITEM = 100
BLOCK_ITEMS = 10_000


class RolledBack(Exception):
    """Leaves the write's transaction without committing it."""


def blocks(*, n_rows: int, n_products: int, seed: int = 1):
    """Item index i's 100 neighbours, distinct, spread over the catalog; random scores."""
    from recommendations.recall.neighbor_rows import NeighborBlock

    rng = np.random.default_rng(seed)
    items = n_rows // PER_ITEM
    for start in range(0, items, BLOCK_ITEMS):
        rows = np.repeat(np.arange(start, min(items, start + BLOCK_ITEMS)), PER_ITEM)
        offsets = np.tile(np.arange(PER_ITEM), len(rows) // PER_ITEM)
        yield NeighborBlock(rows=rows, cols=(rows * 7919 + offsets * 13 + 1) % n_products, scores=rng.random(len(rows)))


def table_checks(cursor, table: str) -> dict:
    cursor.execute(
        "SELECT count(*) FILTER (WHERE contype = 'f'), (SELECT count(*) FROM pg_index WHERE indrelid = %s::regclass)"
        " FROM pg_constraint WHERE conrelid = %s::regclass",
        [table, table],
    )
    foreign_keys, indexes = cursor.fetchone()
    return {"foreign_keys": foreign_keys, "indexes": indexes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, help="bench/api_latency.py's database of this size")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if args.size:
        from recsite.database import embedded_database_url

        setup_django(embedded_database_url(database=f"recsite_bench_{args.size}"))
    else:
        setup_django(os.environ["DATABASE_URL"])
    from django.db import connection, transaction

    from recommendations.recall import itemcf
    from recommendations.recall.neighbor_rows import neighbor_rows_write

    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM catalog_product ORDER BY id")
        product_pks = np.array([pk for (pk,) in cursor.fetchall()])
        checks = table_checks(cursor, itemcf.TABLE.name)
    load_start = os.getloadavg()
    rows = []
    for round_number in range(1, args.rounds + 1):
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"DELETE FROM {itemcf.TABLE.name}")
                started = time.perf_counter()
                written = neighbor_rows_write(
                    cursor=cursor,
                    table=itemcf.TABLE,
                    blocks=blocks(n_rows=args.rows, n_products=len(product_pks)),
                    product_pks=product_pks,
                )
                copied = time.perf_counter()
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                checked = time.perf_counter()
                rows.append(
                    {
                        "round": round_number,
                        "rows": written,
                        **checks,
                        "copy_s": round(copied - started, 2),
                        "deferred_checks_s": round(checked - copied, 2),
                        "us_a_row": round((checked - started) / written * 1e6, 2),
                    }
                )
                raise RolledBack
        except RolledBack:
            print_table(rows[-1:])
    meta = {"size": args.size, "loadavg_start": load_start, "loadavg_end": os.getloadavg()}
    print("wrote", write_results("neighbor_write", rows, meta))


if __name__ == "__main__":
    main()
