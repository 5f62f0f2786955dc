"""Session quality: customers' histories replayed as anonymous sessions. For each sampled customer
with more than `n` events (time order), the first `n` are the session and the first later
positive event on an item outside the session is the target; the session's feed (the home feed
`recommend` makes for a session, its history aggregated like a customer's) against popularity
(the feed of a session without events). Usage, on a loaded database:

    .venv/bin/python bench/session_quality.py [--n 5] [--customers 300] [--seed 7]

Caveat: item neighbours and popularity were built from every stored event, the targets included;
the two feeds share that advantage, the comparison between them stands, their absolute levels are
optimistic.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import print_table, write_results  # noqa: E402

K = 10


def setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "recsite.settings")
    import django

    django.setup()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=5)
    parser.add_argument("--customers", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    setup()
    from django.db import connection

    from placements.public import Placement, default_strategy
    from recommendations import pipeline
    from recommendations.contracts import RecRequest
    from recommendations.history import History, history_aggregate
    from recommendations.interactions import event_weights, positive_mask

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT customer_id FROM catalog_event WHERE customer_id IS NOT NULL GROUP BY customer_id"
            " HAVING count(*) > %s ORDER BY customer_id",
            [args.n],
        )
        eligible = [row[0] for row in cursor.fetchall()]
    sample = random.Random(args.seed).sample(eligible, min(args.customers, len(eligible)))

    sessions: dict[str, History] = {}
    targets: dict[str, int] = {}
    with connection.cursor() as cursor:
        for customer_pk in sample:
            cursor.execute(
                "SELECT product_id, type, value, EXTRACT(EPOCH FROM timestamp) FROM catalog_event"
                " WHERE customer_id = %s ORDER BY timestamp, id",
                [customer_pk],
            )
            rows = cursor.fetchall()
            head, tail = rows[: args.n], rows[args.n :]
            items = {row[0] for row in head}
            types = np.asarray([r[1] for r in tail], dtype=str)
            values = np.asarray([np.nan if r[2] is None else r[2] for r in tail], dtype=np.float64)
            positive = positive_mask(types=types, values=values) if tail else []
            target = next((r[0] for r, pos in zip(tail, positive, strict=True) if pos and r[0] not in items), None)
            if target is None:
                continue
            aggregated = history_aggregate(
                users=np.zeros(len(head), dtype=np.int64),
                items=np.asarray([r[0] for r in head], dtype=np.int64),
                weights=event_weights(
                    types=np.asarray([r[1] for r in head], dtype=str),
                    values=np.asarray([np.nan if r[2] is None else r[2] for r in head], dtype=np.float64),
                ),
                timestamps=np.asarray([float(r[3]) for r in head], dtype=np.float64),
            )
            session = f"replay-{customer_pk}"
            sessions[session] = History(
                product_pks=tuple(int(pk) for pk in aggregated.items),
                weights=tuple(float(w) for w in aggregated.weights),
                purchased_pks=frozenset(r[0] for r in head if r[1] == "purchase"),
            )
            targets[session] = target

    # The feed's own path, with the replayed session's history in place of a stored one.
    pipeline.session_history = lambda *, session_id: sessions.get(session_id or "", History())
    strategy = default_strategy(Placement.HOME_FEED, None)
    hits = {"session feed": 0, "popularity": 0}
    histories = set()
    for session, target in targets.items():
        feed = pipeline.recommend(
            request=RecRequest(customer_id=None, session_id=session, k=K, reasons=False), strategy=strategy
        )
        histories.add(feed.history)
        hits["session feed"] += any(item.product_pk == target for item in feed.items)
        popular = pipeline.recommend(request=RecRequest(customer_id=None, k=K, reasons=False), strategy=strategy)
        hits["popularity"] += any(item.product_pk == target for item in popular.items)
    rows = [
        {"feed": name, "sessions": len(targets), "session_events": args.n, "hit@10": round(count / len(targets), 3)}
        for name, count in hits.items()
    ]
    print_table(rows)
    path = write_results(
        "session_quality",
        rows,
        {"n": args.n, "customers_sampled": len(sample), "seed": args.seed, "histories": sorted(map(str, histories))},
    )
    print(f"written to {path}")


if __name__ == "__main__":
    main()
