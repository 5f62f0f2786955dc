"""Does fine-tuning the sentence model on the shop's pairs help? Measured offline, leak-free.

On the database holding a data set: split as `evaluate` splits; build co-occurrence pairs from the
training events only; fine-tune the configured model on them (`adapt_model`); encode the catalog
with the base and the adapted model (torch, the same code for both); then run `evaluate`'s
protocol for the semantic route, the fused list and the rankers with each set of embeddings.

    .venv/bin/python bench/adaptation.py --holdout-last 1 [--max-pairs 20000 --seed 42]

`--save-embeddings PATH` also writes the adapted vectors (`.npy`, rows in product pk order) and
`--no-evaluate` skips the one-seed comparison, so that `bench/evaluate_seeds.py run --embeddings
PATH` can measure the adapted model over several seeds.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from bench.common import print_table, write_results  # noqa: E402

STRATEGIES = ("semantic", "fused", "ranker_statistical", "ranker_semantic")


def main() -> None:
    parser = argparse.ArgumentParser()
    split_group = parser.add_mutually_exclusive_group(required=True)
    split_group.add_argument("--holdout-last", type=int)
    split_group.add_argument("--cutoff")
    parser.add_argument("--max-pairs", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--name", default="adaptation")
    parser.add_argument("--save-embeddings", type=Path, help="write the adapted vectors here (.npy)")
    parser.add_argument("--no-evaluate", action="store_true", help="adapt (and save) only")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "recsite.settings")
    import django

    django.setup()
    from catalog.models import Product
    from recommendations.embeddings.adaptation import adapt_model, cooccurrence_pairs, encode
    from recommendations.embeddings.model import embedding_model_name, model_location, pick_device
    from recommendations.evaluation.runner import EvaluationConfig, evaluation_run
    from recommendations.evaluation.split import split_by_cutoff, split_holdout_last
    from recommendations.interactions import interactions_load
    from recommendations.ranking.features import catalog_build, catalog_load

    interactions, product_pks = interactions_load()
    texts = [p.embedding_text() for p in Product.objects.select_related("category").order_by("pk")]
    cutoff = dt.datetime.fromisoformat(args.cutoff).replace(tzinfo=dt.UTC).timestamp() if args.cutoff else None
    split = (
        split_holdout_last(interactions=interactions, n=args.holdout_last)
        if args.holdout_last
        else split_by_cutoff(interactions=interactions, cutoff=cutoff)
    )
    pairs = cooccurrence_pairs(interactions=split.train, max_pairs=args.max_pairs, seed=args.seed)
    location, device = model_location(embedding_model_name()), pick_device()
    from sentence_transformers import SentenceTransformer

    started = time.perf_counter()
    base = encode(SentenceTransformer(location, device=device, local_files_only=True), texts)
    base_seconds = time.perf_counter() - started
    model, report = adapt_model(texts=texts, pairs=pairs, location=location, device=device, seed=args.seed)
    started = time.perf_counter()
    adapted = encode(model, texts)
    print(
        f"{report.pairs} training-part pairs, {report.steps} steps on {device} in {report.seconds:.0f} s, "
        f"loss {report.first_loss:.3f} -> {report.last_loss:.3f}; encoding {len(texts)} items "
        f"{base_seconds:.0f} s (base), {time.perf_counter() - started:.0f} s (adapted)"
    )
    if args.save_embeddings:
        np.save(args.save_embeddings, adapted.astype(np.float32))
        print(f"adapted vectors written to {args.save_embeddings}")
    if args.no_evaluate:
        return
    stored = catalog_load()
    rows = []
    for label, vectors in (("base", base), ("adapted", adapted)):
        catalog = catalog_build(
            product_pks=product_pks,
            prices=stored.prices,
            category_ids=stored.categories,
            embeddings=vectors,
        )
        catalog = dataclasses.replace(catalog, brands=stored.brands)
        config = EvaluationConfig(holdout_last=args.holdout_last, cutoff=cutoff, seed=args.seed, strategies=STRATEGIES)
        result = evaluation_run(interactions=interactions, embeddings=vectors, config=config, catalog=catalog)
        for name in STRATEGIES:
            metrics = result.strategies.get(name, {})
            rows.append(
                {
                    "embeddings": label,
                    "strategy": name,
                    "ndcg@10": round(metrics.get("ndcg@10", float("nan")), 4),
                    "recall@10": round(metrics.get("recall@10", float("nan")), 4),
                }
            )
    print_table(
        [{key: f"{value:.4f}" if isinstance(value, float) else value for key, value in row.items()} for row in rows]
    )
    split_label = f"holdout-last {args.holdout_last}" if args.holdout_last else f"cutoff {args.cutoff}"
    path = write_results(
        args.name,
        rows,
        {"split": split_label, "adaptation": report.__dict__, "items": len(texts), "pairs_from": "training part only"},
    )
    print(f"written to {path}")


if __name__ == "__main__":
    main()
