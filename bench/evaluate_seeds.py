"""`evaluate`'s protocol on a data set dumped to arrays, over several seeds and configurations in
parallel processes: the run-to-run noise of the rankers, measured.

    # once, on the database holding the data set (writes events, catalog and embeddings)
    .venv/bin/python bench/evaluate_seeds.py dump var/online-retail.npz
    # then with the project's packages, without a database (Django is set up, never connected)
    .venv/bin/python bench/evaluate_seeds.py run var/online-retail.npz --holdout-last 1 --seeds 1,2,3 --jobs 2

`--embeddings PATH` (an `.npy` of item vectors in the dump's order, e.g. from `bench/adaptation.py
--save-embeddings`) replaces the dump's embeddings. `--weights itemcf=1,cf=1,...`,
`--rank-candidates N`, `--ablate feature,...` (the rankers
without those features), `--params`, `--early-stopping` and `--members` (LightGBM) evaluate another
configuration; every
configuration and seed is one process (one core: LightGBM and BLAS are held to one thread). The
table shows each strategy's NDCG@10 and Recall@10 as mean ± standard deviation over the seeds
(the routes do not depend on the seed), and the results go to bench/results/<name>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import django_setup, print_table, write_results  # noqa: E402


def dump(path: Path) -> None:
    django_setup()
    from recommendations.interactions import interactions_load
    from recommendations.ranking.features import catalog_load

    events, product_pks = interactions_load()
    catalog = catalog_load()
    assert np.array_equal(product_pks, catalog.product_pks)
    np.savez_compressed(
        path,
        users=events.users,
        items=events.items,
        weights=events.weights,
        timestamps=events.timestamps,
        positive=events.positive,
        n_users=events.n_users,
        prices=catalog.prices,
        categories=catalog.categories,
        brands=catalog.brands,
        embeddings=catalog.embeddings if catalog.embeddings is not None else np.zeros((len(product_pks), 0)),
    )
    print(f"{len(events.users)} events, {events.n_users} customers, {len(product_pks)} products -> {path}")


def load(path: str, embeddings_path: str | None = None):
    from recommendations.contracts import Interactions
    from recommendations.ranking.features import Catalog

    data = np.load(path)
    n_items = len(data["prices"])
    embeddings = data["embeddings"] if data["embeddings"].shape[1] else None
    if embeddings_path:
        embeddings = np.load(embeddings_path).astype(np.float32)
        assert embeddings.shape[0] == n_items, "the vectors must be in the dump's item order"
    events = Interactions(
        users=data["users"],
        items=data["items"],
        weights=data["weights"],
        timestamps=data["timestamps"],
        positive=data["positive"],
        n_users=int(data["n_users"]),
        n_items=n_items,
    )
    catalog = Catalog(
        product_pks=np.arange(n_items),
        prices=data["prices"],
        categories=data["categories"],
        embeddings=embeddings,
        has_embedding=np.zeros(n_items, dtype=bool) if embeddings is None else np.abs(embeddings).sum(axis=1) > 0,
        brands=data["brands"],
    )
    return events, catalog


def one_run(task: dict) -> dict:
    from recommendations.evaluation.runner import EvaluationConfig, evaluation_run
    from recommendations.ranking import training
    from recommendations.ranking.features import FEATURE_SETS

    # An ablation: the rankers without these features; other LightGBM parameters (this process only).
    for name, names in list(FEATURE_SETS.items()):
        FEATURE_SETS[name] = tuple(f for f in names if f not in task["ablate"])
    training.PARAMS.update(task["params"])
    if task["early_stopping"]:
        training.EARLY_STOPPING_ROUNDS = task["early_stopping"]
    if task["members"]:
        training.ENSEMBLE_MEMBERS = task["members"]

    events, catalog = load(task["path"], task["embeddings"])
    config = EvaluationConfig(
        holdout_last=task["holdout_last"],
        cutoff=task["cutoff"],
        seed=task["seed"],
        strategies=tuple(task["strategies"]),
        route_weights=task["weights"],
        rank_candidates=task["rank_candidates"],
        rounds=task["rounds"],
    )
    result = evaluation_run(interactions=events, embeddings=catalog.embeddings, config=config, catalog=catalog)
    return {"task": task, "strategies": result.strategies, "protocol": result.protocol}


def run(args) -> None:
    django_setup()
    from placements.public import Strategy
    from recommendations.evaluation.strategies import STRATEGIES
    from recommendations.ranking.training import RANK_CANDIDATES, ROUNDS

    weights = dict(Strategy().routes)
    if args.weights:
        weights = {key: float(value) for key, value in (pair.split("=") for pair in args.weights.split(","))}
    cutoff = dt.datetime.fromisoformat(args.cutoff).replace(tzinfo=dt.UTC).timestamp() if args.cutoff else None
    tasks = [
        {
            "path": str(args.path),
            "embeddings": str(args.embeddings) if args.embeddings else None,
            "holdout_last": args.holdout_last,
            "cutoff": cutoff,
            "seed": seed,
            "strategies": args.strategies.split(",") if args.strategies else list(STRATEGIES),
            "weights": weights,
            "rank_candidates": args.rank_candidates or RANK_CANDIDATES,
            "ablate": args.ablate.split(",") if args.ablate else [],
            "params": {key: _number(value) for key, value in (p.split("=") for p in args.params.split(","))}
            if args.params
            else {},
            "early_stopping": args.early_stopping,
            "members": args.members,
            "rounds": args.rounds or ROUNDS,
        }
        for seed in (int(s) for s in args.seeds.split(","))
    ]
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(one_run, tasks))
    rows = []
    for name in results[0]["strategies"]:
        ndcg = [r["strategies"][name]["ndcg@10"] for r in results if name in r["strategies"]]
        recall = [r["strategies"][name]["recall@10"] for r in results if name in r["strategies"]]
        coverage = [r["strategies"][name]["coverage"] for r in results if name in r["strategies"]]
        rows.append(
            {
                "strategy": name,
                "ndcg@10": f"{np.mean(ndcg):.4f} ± {np.std(ndcg):.4f}",
                "recall@10": f"{np.mean(recall):.4f} ± {np.std(recall):.4f}",
                "coverage": f"{np.mean(coverage):.4f}",
                "per_seed_ndcg": " ".join(f"{v:.4f}" for v in ndcg),
            }
        )
    split = f"holdout-last {args.holdout_last}" if args.holdout_last else f"cutoff {args.cutoff}"
    candidates = tasks[0]["rank_candidates"]
    print(
        f"{Path(args.path).name}, {split}, seeds {args.seeds}, weights {weights}, candidates {candidates}, "
        f"ablated {args.ablate or 'nothing'}, params {args.params or 'default'}, early stopping {args.early_stopping}, "
        f"rounds {tasks[0]['rounds']}, members {args.members or 'default'}, "
        f"embeddings {args.embeddings or 'from the dump'}"
    )
    print_table(rows)
    training = results[0]["protocol"].get("rankers", {}).get("training", {})
    peak = max(r["protocol"]["peak_rss_mb"] for r in results)
    print(f"training lists (seed {tasks[0]['seed']}): {json.dumps(training)}; peak memory of a run {peak:.0f} MB")
    path = write_results(
        args.name,
        rows,
        {
            "data": Path(args.path).name,
            "split": split,
            "weights": weights,
            "runs": [{k: r[k] for k in ("strategies", "protocol")} for r in results],
        },
    )
    print(f"written to {path}")


def _number(text: str) -> float | int:
    return float(text) if "." in text or "e" in text else int(text)


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    dump_parser = sub.add_parser("dump")
    dump_parser.add_argument("path", type=Path)
    run_parser = sub.add_parser("run")
    run_parser.add_argument("path", type=Path)
    split_group = run_parser.add_mutually_exclusive_group(required=True)
    split_group.add_argument("--holdout-last", type=int)
    split_group.add_argument("--cutoff")
    run_parser.add_argument("--seeds", default="1,2,3")
    run_parser.add_argument("--strategies")
    run_parser.add_argument("--weights")
    run_parser.add_argument("--embeddings", type=Path, help="item vectors (.npy) replacing the dump's")
    run_parser.add_argument("--rank-candidates", type=int)
    run_parser.add_argument("--ablate", help="comma-separated features the rankers go without")
    run_parser.add_argument("--params", help="LightGBM parameters to override, e.g. num_leaves=31,feature_fraction=0.8")
    run_parser.add_argument("--early-stopping", type=int, help="rounds without improvement before stopping")
    run_parser.add_argument("--members", type=int, help="models summed per ranker (ENSEMBLE_MEMBERS)")
    run_parser.add_argument("--rounds", type=int, help="cuts of each customer's history for the training lists")
    run_parser.add_argument("--jobs", type=int, default=os.cpu_count())
    run_parser.add_argument("--name", default="evaluate_seeds")
    args = parser.parse_args()
    if args.command == "dump":
        dump(args.path)
    else:
        run(args)


if __name__ == "__main__":
    main()
