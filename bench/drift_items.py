"""What the drift job holds per loaded item: the peak memory of `embeddings_load` over the process
at 0 and at n items, each in a fresh process, for the loader before (every item's array in a dict,
stacked, then a normalised copy) and now (one float32 matrix filled in chunks). The slope between
the sizes is the per-item cost `monitoring.budget` counts (ITEM_VECTOR_COPIES, ITEM_OVERHEAD_BYTES).

    python -m bench.drift_items --prepare 60000   # generated products with random 384-d vectors
    python -m bench.drift_items --sizes 0 20000 60000

Runs on the configured database (the development one: `--prepare` adds GEN-DRIFT- products).
"""

from __future__ import annotations

import argparse
import subprocess
import sys

import numpy as np

from bench.common import django_setup

PREFIX = "GEN-DRIFT-"
LOADERS = ("before", "now")


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


def embeddings_load_before(*, product_pks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The loader as it was (commit 25793a8), to measure against."""
    from catalog.models import ProductEmbedding

    pks = np.unique(product_pks)
    rows = ProductEmbedding.objects.filter(product_id__in=pks.tolist()).values_list("product_id", "vector")
    by_pk = {pk: np.asarray(vector, dtype=np.float32) for pk, vector in rows}
    pks = np.asarray([pk for pk in pks.tolist() if pk in by_pk], dtype=np.int64)
    if not len(pks):
        return pks, np.zeros((0, 0), dtype=np.float32)
    matrix = np.stack([by_pk[pk] for pk in pks.tolist()])
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return pks, matrix / np.maximum(norms, np.finfo(np.float32).tiny)


def measure(loader: str, n: int) -> None:
    """In this process: the peak over the process of loading `n` generated items' embeddings."""
    from catalog.models import Product
    from monitoring.distributions import embeddings_load
    from recsite.memory import peak_rss_mb, rss_mb

    pks = np.asarray(
        Product.objects.filter(external_id__startswith=PREFIX).order_by("pk").values_list("pk", flat=True)[:n],
        dtype=np.int64,
    )
    load = embeddings_load if loader == "now" else embeddings_load_before
    before = rss_mb()
    loaded, vectors = load(product_pks=pks)
    peak = peak_rss_mb()
    print(f"{loader} {len(loaded)} {vectors.nbytes} {before:.1f} {peak:.1f}")


def measure_all(sizes: list[int], loaders: list[str]) -> None:
    results = {}
    for loader in loaders:
        for n in sizes:
            out = subprocess.run(
                [sys.executable, "-m", "bench.drift_items", "--measure", loader, str(n)],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
            items, nbytes, before, peak = int(out[1]), int(out[2]), float(out[3]), float(out[4])
            results[loader, n] = peak - before
            print(
                f"{loader:6} {items:>7,} items (matrix {nbytes / 2**20:6.1f} MB): "
                f"peak {peak:6.1f} MB, +{peak - before:6.1f} MB"
            )
    low, high = min(sizes), max(sizes)
    for loader in loaders:
        per_item = (results[loader, high] - results[loader, low]) * 2**20 / (high - low)
        print(f"{loader}: {per_item:,.0f} bytes an item ({per_item / (4 * 384):.2f} float32 rows of 384)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prepare", type=int)
    parser.add_argument("--sizes", type=int, nargs="+")
    parser.add_argument("--loaders", nargs="+", choices=LOADERS, default=LOADERS)
    parser.add_argument("--measure", nargs=2, metavar=("LOADER", "N"))
    args = parser.parse_args()
    django_setup()
    if args.prepare:
        prepare(args.prepare)
    if args.sizes:
        measure_all(args.sizes, args.loaders)
    if args.measure:
        measure(args.measure[0], int(args.measure[1]))


if __name__ == "__main__":
    main()
