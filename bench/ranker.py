"""Ranker training time and rank-stage latency on the stored data (read-only: nothing is written
to the database).

Training: what `train_ranker` does (load, temporal lists from the serving recall, LightGBM fit),
in memory, for both feature sets. Rank stage: for customers with history, their real fused
candidates (item-CF, semantic, popularity as the pipeline fuses them), then the rank stage's work
on the top 200 with the just-trained semantic model: the customer's events (one query),
features, prediction, reorder. The per-process snapshot and the model are loaded before timing,
as in a warm web worker. Usage:

    .venv/bin/python bench/ranker.py [--customers 300]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import percentile, print_table, write_results  # noqa: E402


def setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "recsite.settings")
    import django

    django.setup()


def train() -> tuple[list[dict], dict]:
    """Train both feature sets as `train_ranker` would; rows of timings and the fitted rankers."""
    from recommendations.interactions import interactions_load
    from recommendations.ranking.features import catalog_load
    from recommendations.ranking.training import ranker_fit, training_data_build

    started = time.perf_counter()
    interactions, _ = interactions_load()
    catalog = catalog_load()
    loaded = time.perf_counter()
    data = training_data_build(interactions=interactions, catalog=catalog)
    built = time.perf_counter()
    rows, fitted = [], {}
    for feature_set in ("statistical", "semantic"):
        fit_started = time.perf_counter()
        fitted[feature_set] = ranker_fit(data=data, feature_set=feature_set)
        fit_s = time.perf_counter() - fit_started
        rows.append(
            {
                "feature_set": feature_set,
                "load_s": loaded - started,
                "lists_s": built - loaded,
                "fit_s": fit_s,
                "total_s": (built - started) + fit_s,
                "lists": data.windows["lists"],
                "rows": data.windows["rows"],
                "trees": fitted[feature_set].validation_metrics["trees"],
                "valid_ndcg10": fitted[feature_set].validation_metrics["ndcg@10"],
            }
        )
    return rows, fitted


def rank_latency(*, fitted, customers: int) -> dict:
    """p50/p99 of the rank stage over `customers` customers' fused candidates."""
    import lightgbm as lgb

    from catalog.models import Customer
    from placements.public import Strategy
    from recommendations.history import customer_history
    from recommendations.ranking.stage import LoadedRanker, rank_with, snapshot_current
    from recommendations.ranking.training import RANK_CANDIDATES
    from recommendations.recall import itemcf, popularity, semantic
    from recommendations.recall.fused import fuse

    strategy = Strategy()
    model = LoadedRanker(
        ranker_id=0,
        label="bench",
        feature_set="semantic",
        feature_names=fitted.feature_names,
        basis=fitted.basis,
        booster=lgb.Booster(model_str=fitted.model),
    )
    snapshot = snapshot_current()
    ids = list(Customer.objects.order_by("pk").values_list("external_id", flat=True)[:customers])
    cases = []
    for customer_id in ids:
        history = customer_history(customer_id=customer_id)
        if history.is_empty:
            continue
        n = strategy.candidates_per_route
        candidates = {
            itemcf.ROUTE: itemcf.itemcf_candidates(history=history, n=n),
            semantic.ROUTE: semantic.customer_semantic_candidates(
                history=history, n=n, knn_filter=semantic.KnnFilter()
            ),
            popularity.ROUTE: popularity.popularity_candidates(n=n),
        }
        cases.append((customer_id, fuse(candidates=candidates, weights=strategy.routes)[:RANK_CANDIDATES]))
    rank_with(model=model, customer_id=cases[0][0], fused=cases[0][1], snapshot=snapshot)
    times = []
    for customer_id, fused in cases:
        started = time.perf_counter()
        rank_with(model=model, customer_id=customer_id, fused=fused, snapshot=snapshot)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {
        "customers": len(cases),
        "candidates_mean": sum(len(f) for _, f in cases) / len(cases),
        "p50_ms": percentile(times, 50),
        "p99_ms": percentile(times, 99),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=300)
    args = parser.parse_args()
    setup()
    training, fitted = train()
    print_table(training)
    latency = rank_latency(fitted=fitted["semantic"], customers=args.customers)
    print_table([latency])
    path = write_results("ranker", training, {"rank_stage": latency})
    print(f"written to {path}")


if __name__ == "__main__":
    main()
