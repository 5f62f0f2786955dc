"""The int8 query encoder against fp32: agreement, search recall, encoding time (issue #19, point 5).

Both run the torch-free bundle (recommendations/embeddings/bundle.py) on one thread. Texts: the
catalog's titles in the database plus search queries made from them (the first words of random
titles, as bench/api_latency.py makes them). Agreement: cosine between the two vectors of each
text. Recall@10: for each query, the share of fp32's top 10 (over the stored catalog embeddings,
exact search) that int8's top 10 keeps. Usage:

    RECSITE_VAR_DIR=... .venv/bin/python bench/int8_encoder.py [--texts 2000] [--queries 300]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.api_latency import setup_django  # noqa: E402
from bench.common import percentile, print_table, write_results  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=2000)
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    from recsite.database import database_url

    setup_django(database_url())
    from django.conf import settings

    from catalog.models import Product, ProductEmbedding
    from recommendations.embeddings.bundle import bundle_encoder
    from recommendations.embeddings.model import active_encoder, embedding_model_name, model_location

    active_encoder()  # a torch process: writes the bundle (and its int8 variant) if missing
    location, directory = model_location(embedding_model_name()), Path(settings.EMBEDDING_ONNX_DIR)
    fp32 = bundle_encoder(directory=directory, location=location, precision="fp32")
    int8 = bundle_encoder(directory=directory, location=location, precision="int8")
    if fp32 is None or int8 is None or int8.precision != "int8":
        sys.exit("no bundle with an int8 variant: run an embedding worker or `manage.py embed` first")

    rng = random.Random(7)
    titles = list(Product.objects.order_by("pk").values_list("title", flat=True)[: args.texts])
    queries = [
        " ".join(t.lower().split()[: rng.randint(1, 3)]) for t in rng.sample(titles, min(args.queries, len(titles)))
    ]
    texts = titles + queries

    a = fp32.encode(texts, batch_size=64)
    b = int8.encode(texts, batch_size=64)
    cosine = np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))

    rows = list(ProductEmbedding.objects.values_list("vector", flat=True))
    catalog = np.stack([np.asarray(v, dtype=np.float32) for v in rows])
    qa, qb = a[len(titles) :], b[len(titles) :]
    top_a = np.argsort(-(qa @ catalog.T), axis=1)[:, :10]
    top_b = np.argsort(-(qb @ catalog.T), axis=1)[:, :10]
    recall = np.mean([len(set(x) & set(y)) / 10 for x, y in zip(top_a, top_b, strict=True)])

    timings: dict[str, list[float]] = {"fp32": [], "int8": []}
    for query in queries:
        for name, encoder in (("fp32", fp32), ("int8", int8)):
            started = time.perf_counter()
            encoder.encode([query], batch_size=1)
            timings[name].append((time.perf_counter() - started) * 1000)
    for values in timings.values():
        values.sort()
    table = [
        {
            "precision": name,
            "texts": len(texts),
            "cosine_mean": 1.0 if name == "fp32" else float(cosine.mean()),
            "cosine_min": 1.0 if name == "fp32" else float(cosine.min()),
            "recall_at_10": 1.0 if name == "fp32" else float(recall),
            "query_p50_ms": percentile(timings[name], 50),
            "query_p99_ms": percentile(timings[name], 99),
        }
        for name in ("fp32", "int8")
    ]
    load = os.getloadavg()
    print(f"{len(queries)} queries, {len(catalog)} catalog vectors, one thread; load {load[0]:.2f}")
    print_table(table)
    print(f"written: {write_results('int8_encoder', table, {'load': load})}")


if __name__ == "__main__":
    main()
