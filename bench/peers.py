"""Peer baselines on exactly the split `manage.py evaluate` makes, scored by the same metrics.

The peers the issues name, from the `implicit` package (item-kNN with BM25 and cosine weighting,
ALS, BPR) and EASE (Steck 2019, closed form, full dense weights, λ from a fixed grid), each trained
on the training part of the split and ranking the whole catalog minus the customer's training
items, as `evaluate` does. Usage (on the database holding the data set):

    .venv/bin/python bench/peers.py --holdout-last 1        # or --cutoff 2011-11-01
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import print_table, write_results  # noqa: E402
from recsite.memory import peak_rss_mb  # noqa: E402

EASE_LAMBDAS = (50.0, 200.0, 500.0)
K = 10


def setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "recsite.settings")
    import django

    django.setup()


def ease_scores(matrix: sp.csr_matrix, lam: float) -> np.ndarray:
    gram = (matrix.T @ matrix).toarray().astype(np.float64)
    gram[np.diag_indices_from(gram)] += lam
    precision = np.linalg.inv(gram)
    weights = -precision / np.diag(precision)[None, :]
    np.fill_diagonal(weights, 0.0)
    return weights


def main() -> None:
    parser = argparse.ArgumentParser()
    split_group = parser.add_mutually_exclusive_group(required=True)
    split_group.add_argument("--holdout-last", type=int)
    split_group.add_argument("--cutoff")
    parser.add_argument("--name", default="peers")
    args = parser.parse_args()
    setup()
    from implicit.cpu.als import AlternatingLeastSquares
    from implicit.cpu.bpr import BayesianPersonalizedRanking
    from implicit.nearest_neighbours import BM25Recommender, CosineRecommender
    from threadpoolctl import threadpool_limits

    from recommendations.evaluation.metrics import aggregate_metrics
    from recommendations.evaluation.split import split_by_cutoff, split_holdout_last
    from recommendations.evaluation.strategies import top_items
    from recommendations.interactions import interactions_load

    interactions, _ = interactions_load()
    if args.holdout_last:
        split = split_holdout_last(interactions=interactions, n=args.holdout_last)
        label = f"holdout-last {args.holdout_last}"
    else:
        cutoff = dt.datetime.fromisoformat(args.cutoff).replace(tzinfo=dt.UTC).timestamp()
        split = split_by_cutoff(interactions=interactions, cutoff=cutoff)
        label = f"cutoff {args.cutoff}"
    train = split.train
    binary = sp.csr_matrix(
        (np.ones(len(train.users)), (train.users, train.items)), shape=(train.n_users, train.n_items)
    )
    binary.data[:] = 1.0
    binary = binary.astype(np.float32)
    users = split.users

    def evaluate(name: str, score_block) -> dict:
        started = time.perf_counter()
        rankings = []
        for start in range(0, len(users), 512):
            block = users[start : start + 512]
            scores = np.asarray(score_block(block), dtype=np.float64)
            rows, cols = binary[block].nonzero()
            scores[rows, cols] = -np.inf
            rankings += [top_items(scores=row, k=K).tolist() for row in scores]
        metrics = aggregate_metrics(rankings=rankings, truths=split.truths, k=K, n_items=train.n_items)
        return {
            "peer": name,
            "ndcg@10": round(metrics["ndcg@10"], 4),
            "recall@10": round(metrics["recall@10"], 4),
            "coverage": round(metrics["coverage"], 4),
            "seconds": round(time.perf_counter() - started, 1),
        }

    rows = []
    with threadpool_limits(limits=1, user_api="blas"):
        for name, model in (
            ("item-kNN BM25", BM25Recommender(K1=1.2, B=0.75, K=100)),
            ("item-kNN cosine", CosineRecommender(K=100)),
            ("ALS (128 factors)", AlternatingLeastSquares(factors=128, random_state=42)),
            ("BPR", BayesianPersonalizedRanking(random_state=42)),
        ):
            began = time.perf_counter()
            model.fit(binary, show_progress=False)
            fit_seconds = time.perf_counter() - began
            if hasattr(model, "similarity"):
                similarity = sp.csr_matrix(model.similarity)
                row = evaluate(name, lambda block, s=similarity: (binary[block] @ s).toarray())
            else:
                item_factors, user_factors = np.asarray(model.item_factors), np.asarray(model.user_factors)
                row = evaluate(name, lambda block, u=user_factors, i=item_factors: u[block] @ i.T)
            rows.append(row | {"seconds": round(row["seconds"] + fit_seconds, 1)})
    for lam in EASE_LAMBDAS:
        began = time.perf_counter()
        weights = ease_scores(binary, lam)
        fit_seconds = time.perf_counter() - began
        row = evaluate(f"EASE (λ={lam:g})", lambda block, w=weights: binary[block] @ w)
        rows.append(row | {"seconds": round(row["seconds"] + fit_seconds, 1)})
    print(f"{label}: {len(users)} customers evaluated, {train.n_items} items")
    print_table(
        [{key: f"{value:.4f}" if isinstance(value, float) else value for key, value in row.items()} for row in rows]
    )
    peak = peak_rss_mb()
    path = write_results(args.name, rows, {"split": label, "users": len(users), "peak_rss_mb": round(peak, 1)})
    print(f"peak memory {peak:.0f} MB; written to {path}")


if __name__ == "__main__":
    main()
