"""What the drift job holds per loaded item: the peak memory of `embeddings_load` over the process
at each size, each in a fresh process. The slope between the sizes is the per-item cost
`monitoring.budget` counts (ITEM_VECTOR_COPIES, ITEM_OVERHEAD_BYTES). (The loader before one float32
matrix filled in chunks, every item's array in a dict then stacked and copied, measured 24,067 bytes
an item: docs/operations.md.)

    python -m bench.drift_items --prepare 60000   # generated products with random 384-d vectors
    python -m bench.drift_items --sizes 0 20000 60000

Runs on the configured database (the development one: `--prepare` adds GEN-DRIFT- products).
"""

from __future__ import annotations

import argparse
import subprocess
import sys

import numpy as np

from bench.common import django_setup, print_table, write_results

PREFIX = "GEN-DRIFT-"


def prepare(n: int) -> None:
    """`n` products with random unit vectors of 384 dimensions (generated in the database)."""
    from django.db import connection

    from catalog.models import Product

    have = Product.objects.filter(external_id__startswith=PREFIX).count()
    Product.objects.bulk_create(
        (Product(external_id=f"{PREFIX}{i}", title=f"drift item {i}", text_hash="") for i in range(have, n)),
        batch_size=5_000,
    )
    with connection.cursor() as cursor:
        # The correlated subquery draws a vector per row (an uncorrelated one would be drawn once).
        cursor.execute(
            "INSERT INTO catalog_productembedding (product_id, model_name, text_hash, vector, updated_at)"
            " SELECT p.id, 'random', '', (SELECT array_agg(random() - 0.5)"
            "  FROM generate_series(1, 384) WHERE p.id IS NOT NULL)::vector(384), now()"
            " FROM catalog_product p WHERE p.external_id LIKE %s"
            " AND NOT EXISTS (SELECT 1 FROM catalog_productembedding pe WHERE pe.product_id = p.id)",
            [f"{PREFIX}%"],
        )
    print(f"{n:,} generated products embedded")


def measure(n: int) -> None:
    """In this process: the peak over the process of loading `n` generated items' embeddings."""
    from catalog.models import Product
    from monitoring.distributions import embeddings_load
    from recsite.memory import peak_rss_mb, rss_mb

    pks = np.asarray(
        Product.objects.filter(external_id__startswith=PREFIX).order_by("pk").values_list("pk", flat=True)[:n],
        dtype=np.int64,
    )
    before = rss_mb()
    loaded, vectors = embeddings_load(product_pks=pks)
    peak = peak_rss_mb()
    print(f"{len(loaded)} {vectors.nbytes} {before:.1f} {peak:.1f}")


def measure_all(sizes: list[int]) -> None:
    rows = []
    for n in sizes:
        out = subprocess.run(
            [sys.executable, "-m", "bench.drift_items", "--measure", str(n)], capture_output=True, text=True, check=True
        ).stdout.split()
        items, nbytes, before, peak = int(out[0]), int(out[1]), float(out[2]), float(out[3])
        rows.append({"items": items, "matrix_mb": round(nbytes / 2**20, 1), "peak_mb": peak, "added_mb": peak - before})
    print_table(rows)
    low, high = rows[0], rows[-1]
    per_item = (high["added_mb"] - low["added_mb"]) * 2**20 / max(1, high["items"] - low["items"])
    print(f"{per_item:,.0f} bytes an item ({per_item / (4 * 384):.2f} float32 rows of 384)")
    print("wrote", write_results("drift_items", rows, {"bytes_per_item": per_item}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prepare", type=int)
    parser.add_argument("--sizes", type=int, nargs="+", help="item counts, smallest first")
    parser.add_argument("--measure", type=int, metavar="N", help=argparse.SUPPRESS)
    args = parser.parse_args()
    django_setup()
    if args.prepare:
        prepare(args.prepare)
    if args.sizes:
        measure_all(sorted(args.sizes))
    if args.measure is not None:
        measure(args.measure)


if __name__ == "__main__":
    main()
