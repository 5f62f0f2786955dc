"""Embedding throughput: the raw model's `encode` against the whole `embed_products` pipeline.

Both embed the same N product texts in one process, alternating, `--repeats` times; the medians
and their ratio (pipeline / raw, the goal is >= 0.85) go to bench/results/embed.json. "Raw" is
the runtime the pipeline uses (ONNX Runtime on CPU, torch on a GPU, see `EMBEDDING_RUNTIME`);
sentence-transformers' torch `encode` is timed beside it for reference. Texts are
the catalog's products when the database has some (the Online Retail titles after `make demo`),
else the distinct titles of the Online Retail file in ../shared/datasets, else generated ones.
The pipeline runs on products the benchmark creates in its own scratch database
(`recsite_bench_embed` on the embedded server, or BENCH_EMBED_DATABASE_URL) and deletes after.

    .venv/bin/python bench/embed_bench.py [--n 2000] [--repeats 3] [--batch-size 128]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import print_table, write_results  # noqa: E402
from recsite.database import database_url, embedded_database_url  # noqa: E402

ONLINE_RETAIL = ROOT.parent / "shared" / "datasets" / "online-retail" / "online_retail_2010-12_2011-12.csv.gz"
SCRATCH_DATABASE = "recsite_bench_embed"
EXTERNAL_ID_PREFIX = "EMBED-BENCH-"
ADJECTIVES = ["red", "blue", "vintage", "small", "large", "glass", "wooden", "enamel", "felt", "zinc", "paper"]
NOUNS = ["mug", "tea cup", "lantern", "doorstop", "cake tin", "garden hose", "bunting", "cushion", "clock", "tray"]


def catalog_rows(url: str, n: int) -> list[dict]:
    """Up to `n` products (text fields only) from the catalog database at `url`, or none."""
    import psycopg
    from psycopg.rows import dict_row

    query = (
        "SELECT p.title, p.description, p.brand, p.attributes, coalesce(c.path, '') AS category_path "
        "FROM catalog_product p LEFT JOIN catalog_category c ON c.id = p.category_id ORDER BY p.id LIMIT %s"
    )
    try:
        with psycopg.connect(url, row_factory=dict_row) as conn:
            return conn.execute(query, [n]).fetchall()
    except psycopg.Error:
        return []


def online_retail_titles(n: int) -> list[str]:
    if not ONLINE_RETAIL.exists():
        return []
    titles: dict[str, None] = {}
    with gzip.open(ONLINE_RETAIL, "rt", encoding="utf-8", newline="") as file:
        for row in csv.DictReader(file):
            title = (row.get("Description") or "").strip()
            if title:
                titles.setdefault(title)
                if len(titles) == n:
                    break
    return list(titles)


def generated_titles(n: int) -> list[str]:
    return [f"{ADJECTIVES[i % len(ADJECTIVES)]} {NOUNS[i // len(ADJECTIVES) % len(NOUNS)]} no. {i}" for i in range(n)]


def source_rows(n: int) -> tuple[str, list[dict]]:
    """The products to embed and where they came from."""
    rows = catalog_rows(database_url(), n)
    if rows:
        return "catalog database", rows
    titles = online_retail_titles(n)
    if titles:
        return "Online Retail titles (shared dataset)", [{"title": t} for t in titles]
    return "generated titles", [{"title": t} for t in generated_titles(n)]


def setup_scratch_django() -> str:
    url = os.environ.get("BENCH_EMBED_DATABASE_URL") or embedded_database_url(database=SCRATCH_DATABASE)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "recsite.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return url


def create_products(rows: list[dict]) -> list[str]:
    """Create the scratch products; returns their texts, in the order the pipeline reads them."""
    from catalog.models import Category, Product
    from catalog.text import product_text, text_hash

    products, texts = [], []
    for i, row in enumerate(rows):
        path = row.get("category_path") or ""
        category = (
            Category.objects.get_or_create(path=path, defaults={"name": path.split(" > ")[-1]})[0] if path else None
        )
        fields = {
            "title": row["title"],
            "description": row.get("description") or "",
            "brand": row.get("brand") or "",
            "attributes": row.get("attributes") or {},
        }
        text = product_text(
            title=fields["title"],
            description=fields["description"],
            category_path=path,
            brand=fields["brand"],
            attributes=fields["attributes"],
        )
        products.append(
            Product(external_id=f"{EXTERNAL_ID_PREFIX}{i:07d}", category=category, text_hash=text_hash(text), **fields)
        )
        texts.append(text)
    Product.objects.bulk_create(products, batch_size=2000)
    return texts


def delete_products() -> None:
    from catalog.models import Product

    Product.objects.filter(external_id__startswith=EXTERNAL_ID_PREFIX).delete()


def truncate_embeddings() -> None:
    from django.db import connection

    from catalog.models import ProductEmbedding

    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {connection.ops.quote_name(ProductEmbedding._meta.db_table)}")


def measure(
    texts: list[str], *, batch_size: int, repeats: int
) -> tuple[list[float], list[float], list[float], list[float]]:
    """Seconds per run of raw encode in the pipeline's runtime, of torch's encode, of the
    pipeline, and of the HNSW build inside the pipeline.

    Raw and pipeline alternate so both see the same load. The index build is timed on its own
    over the rows the pipeline just wrote, to show how much of the gap it is.
    """
    from django.db import connection

    from recommendations.embeddings.model import active_encoder, load_model
    from recommendations.embeddings.service import HNSW_INDEX_NAME, embed_products, ensure_vector_index

    model, encode = load_model(), active_encoder()
    # Warm-up: the first calls allocate (and export to ONNX once); no progress bar, as in the pipeline.
    model.encode(texts[: batch_size * 2], batch_size=batch_size, show_progress_bar=False)
    encode(texts[: batch_size * 2], batch_size=batch_size)
    raw, torch_raw, pipeline, index_build = [], [], [], []
    for _ in range(repeats):
        started = time.perf_counter()
        encode(texts, batch_size=batch_size)
        raw.append(time.perf_counter() - started)
        started = time.perf_counter()
        model.encode(texts, batch_size=batch_size, show_progress_bar=False)
        torch_raw.append(time.perf_counter() - started)
        truncate_embeddings()
        report = embed_products(batch_size=batch_size)
        if report.embedded != len(texts):
            raise RuntimeError(f"the pipeline embedded {report.embedded} of {len(texts)} products")
        pipeline.append(report.duration_s)
        with connection.cursor() as cursor:
            cursor.execute(f"DROP INDEX {connection.ops.quote_name(HNSW_INDEX_NAME)}")
        started = time.perf_counter()
        ensure_vector_index()
        index_build.append(time.perf_counter() - started)
    return raw, torch_raw, pipeline, index_build


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2000, help="products to embed per run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=None, help="default: EMBEDDING_BATCH_SIZE")
    args = parser.parse_args()

    source, rows = source_rows(args.n)
    setup_scratch_django()
    import sentence_transformers
    import torch
    from django.conf import settings

    from recommendations.embeddings.model import embedding_model_name, pick_device, pick_runtime

    batch_size = args.batch_size or settings.EMBEDDING_BATCH_SIZE
    delete_products()
    texts = create_products(rows)
    try:
        raw, torch_raw, pipeline, index_build = measure(texts, batch_size=batch_size, repeats=args.repeats)
    finally:
        delete_products()

    raw_items_per_s = len(texts) / statistics.median(raw)
    table = []
    runtime = pick_runtime(pick_device())
    stages = (
        (f"raw encode ({runtime})", raw),
        ("embed_products pipeline", pipeline),
        ("  of which HNSW index build", index_build),
        ("raw sentence-transformers encode (torch)", torch_raw),
    )
    for stage, runs in stages:
        median_s = statistics.median(runs)
        table.append(
            {
                "stage": stage,
                "items": len(texts),
                "runs_s": ", ".join(f"{s:.2f}" for s in runs),
                "median_s": median_s,
                "items_per_s": len(texts) / median_s,
                "ratio_to_raw": len(texts) / median_s / raw_items_per_s,
            }
        )
    ratio = table[1]["ratio_to_raw"]
    # Each pipeline run beside the raw run just before it: steadier when other load comes and goes.
    paired_ratio = statistics.median(r / p for r, p in zip(raw, pipeline, strict=True))
    # The fastest run of each is the one least slowed by other tenants of a shared machine.
    best_ratio = min(raw) / min(pipeline)
    print_table(table)
    print(
        f"pipeline / raw throughput: {ratio:.3f} of medians, {paired_ratio:.3f} paired, "
        f"{best_ratio:.3f} of the fastest runs (goal >= 0.85)"
    )
    meta = {
        "source": source,
        "n": len(texts),
        "mean_text_chars": round(statistics.fmean(len(t) for t in texts), 1),
        "batch_size": batch_size,
        "repeats": args.repeats,
        "model": embedding_model_name(),
        "device": pick_device(),
        "runtime": runtime,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "sentence_transformers": sentence_transformers.__version__,
        "ratio": ratio,
        "paired_ratio": paired_ratio,
        "best_ratio": best_ratio,
    }
    print(f"wrote {write_results('embed', table, meta)}")


if __name__ == "__main__":
    main()
