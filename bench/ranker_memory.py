"""Peak memory and wall time of the ranker's training path at a named size, in memory.

The issue's size: 20,000 products × 10,000 customers × 300 candidates a list. The shop is
generated (no public set of that shape is shipped): item popularity Zipf-like, customers with
15–60 events over a year in visits of 1–4 items, each customer drawn towards a few item "tastes";
embeddings are random unit vectors (384-d float32, the real model's size: memory does not depend
on their values). What runs is the real code: `routes_train` (item-CF, EASE at 20k items,
popularity as of each request), `training_data_build` (two visit cuts, 300 candidates a list,
float32 features), `ranker_fit` for the semantic feature set. Each step's wall time and the
process's peak RSS after it are printed and written to bench/results/ranker_memory.json.

    .venv/bin/python bench/ranker_memory.py [--items 20000 --customers 10000 --candidates 300]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import django_setup, print_table, write_results  # noqa: E402
from recsite.memory import peak_rss_mb  # noqa: E402

DAY = 86_400.0


def generated_shop(*, items: int, customers: int, seed: int = 0):
    from recommendations.contracts import Interactions

    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, items + 1) ** 0.9
    popularity /= popularity.sum()
    tastes = rng.integers(0, items, size=(customers, 3))
    users, item_rows, times = [], [], []
    for customer in range(customers):
        start = rng.uniform(0, 300) * DAY
        for visit in range(rng.integers(5, 20)):
            day = start + visit * rng.uniform(3, 20) * DAY
            for _ in range(rng.integers(1, 5)):
                item = (
                    (tastes[customer, rng.integers(3)] + rng.integers(0, 50)) % items
                    if rng.random() < 0.5
                    else rng.choice(items, p=popularity)
                )
                users.append(customer)
                item_rows.append(item)
                times.append(day + rng.uniform(0, 3600))
    users, item_rows, times = np.array(users), np.array(item_rows), np.array(times)
    return Interactions(
        users=users,
        items=item_rows,
        weights=np.full(len(users), 4.0),
        timestamps=times,
        positive=np.ones(len(users), dtype=bool),
        n_users=customers,
        n_items=items,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--candidates", type=int, default=300)
    args = parser.parse_args()
    django_setup()
    from recommendations.ranking.features import catalog_build
    from recommendations.ranking.training import ranker_fit, training_data_build

    rows = []

    def step(name: str, started: float, detail: str) -> None:
        seconds = round(time.perf_counter() - started, 1)
        rows.append({"step": name, "seconds": seconds, "peak_rss_mb": round(peak_rss_mb()), "detail": detail})
        print_table(rows[-1:])

    started = time.perf_counter()
    events = generated_shop(items=args.items, customers=args.customers)
    vectors = np.random.default_rng(1).normal(size=(args.items, 384)).astype(np.float32)
    catalog = catalog_build(
        product_pks=np.arange(args.items),
        prices=np.random.default_rng(2).uniform(1, 50, args.items),
        category_ids=np.random.default_rng(3).integers(0, 50, args.items),
        embeddings=vectors,
    )
    del vectors
    step("generate", started, f"{len(events.users)} events")
    started = time.perf_counter()
    data = training_data_build(
        interactions=events, catalog=catalog, max_customers=args.customers, candidates=args.candidates
    )
    windows = data.windows
    step("training lists", started, f"{windows['lists']} lists, {windows['rows']} rows; {windows['sample_rule']}")
    started = time.perf_counter()
    fitted = ranker_fit(data=data, feature_set="semantic")
    step("fit (semantic)", started, f"{fitted.validation_metrics['trees']} trees")
    print()
    print_table(rows)
    path = write_results(
        "ranker_memory",
        rows,
        {
            "items": args.items,
            "customers": args.customers,
            "candidates": args.candidates,
            "peak_rss_mb": round(peak_rss_mb()),
        },
    )
    print(f"peak RSS {peak_rss_mb():.0f} MB; written to {path}")


if __name__ == "__main__":
    main()
