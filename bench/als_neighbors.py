"""The collaborative route's ALS neighbour search alone: `CollaborativeFit.blocks()` (each row item's
cosine against the candidates, its top neighbours cut from the dense block) on random unit factors
of the size `build_neighbors` meets at 1M products (ALS_FACTORS a row, ALS_NEIGHBOR_CANDIDATES
candidates), for `--rows` row items, extrapolated to `--extrapolate-to` rows (marked as such).
No database: what it measures is the numpy work between the fit and the rows' COPY.

    .venv/bin/python bench/als_neighbors.py [--rows 20000] [--extrapolate-to 983220]
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

from bench.common import django_setup, print_table, write_results  # noqa: E402

# The touched items of the 20M-event bench (docs/scale.md): the rows a full run searches for.
TOUCHED_AT_1M = 983_220


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--extrapolate-to", type=int, default=TOUCHED_AT_1M)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    django_setup()
    from recommendations.recall.collaborative import (
        ALS,
        ALS_FACTORS,
        ALS_NEIGHBOR_CANDIDATES,
        DEFAULT_NEIGHBORS,
        CollaborativeFit,
        block_rows,
    )

    n_items = max(args.rows, ALS_NEIGHBOR_CANDIDATES)
    rng = np.random.default_rng(42)
    weights = rng.standard_normal((n_items, ALS_FACTORS)).astype(np.float32)
    weights /= np.linalg.norm(weights, axis=1, keepdims=True)
    fit = CollaborativeFit(
        weights=weights,
        rows=np.arange(args.rows),
        candidates=np.sort(rng.choice(n_items, size=ALS_NEIGHBOR_CANDIDATES, replace=False)),
        n_neighbors=DEFAULT_NEIGHBORS,
        algorithm=ALS,
        params={},
        seconds=0.0,
        device="cpu",
    )
    load_start = os.getloadavg()
    rows = []
    for round_number in range(1, args.rounds + 1):
        started = time.perf_counter()
        kept = sum(len(block.rows) for block in fit.blocks())
        seconds = time.perf_counter() - started
        rows.append(
            {
                "round": round_number,
                "row_items": args.rows,
                "candidates": ALS_NEIGHBOR_CANDIDATES,
                "block_rows": block_rows(n_candidates=ALS_NEIGHBOR_CANDIDATES),
                "neighbours_kept": kept,
                "seconds": round(seconds, 2),
                f"extrapolated_s_{args.extrapolate_to}": round(seconds * args.extrapolate_to / args.rows),
            }
        )
        print_table(rows[-1:])
    meta = {
        "loadavg_start": load_start,
        "loadavg_end": os.getloadavg(),
        "omp_threads": os.environ.get("OMP_NUM_THREADS"),
    }
    print("wrote", write_results("als_neighbors", rows, meta))


if __name__ == "__main__":
    main()
