"""Session quality: customers' histories replayed as anonymous sessions, the session feed's hit@10
against popularity's.

A split in time, so that nothing a feed is made from comes after the moment it is asked for: a
cutoff (by default the one `manage.py evaluate` picks, the latest tenth of the customers' events
at or after it; `--cutoff` to choose one). For each sampled customer with at least `n` events before the cutoff and one
after it, their last `n` events before the cutoff are the session, and their first positive event
at or after it, on an item outside the session, is the target. Item neighbours, popularity and
the collaborative model are rebuilt from the events before the cutoff only, inside a transaction
rolled back at the end (the database's own tables are left as they were; a concurrent
`build_neighbors` waits for it). The session's feed is the home feed `recommend` makes for a
session, its history aggregated like a customer's; popularity is the feed of a session without
events.

The strategy is the home feed's default without its LLM rerank (cached on every event); the output
says when it was dropped. A session's feed is never ordered by a learned ranker (a ranker trained
on the events before the cutoff, its features computed from the session's own events, lowered hit@10
on both development sets: README), so none is trained here. The semantic route reads the
stored product embeddings, which come from the products' text, unless the configured model was
adapted on the shop's co-occurrences (`adapt_embeddings`, fitted on every event): the output names
the model. Usage, on a loaded database:

    .venv/bin/python bench/session_quality.py [--n 5] [--customers 300] [--seed 7] [--cutoff 2011-11-01]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import random
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import django_setup, print_table, write_results  # noqa: E402

K = 10


@dataclass(frozen=True)
class Replay:
    """One customer's last events before the cutoff as an anonymous session, and what they went
    on to want: `target`, a product pk."""

    customer_pk: int
    # (product pk, type, value, timestamp) of the session's events, oldest first.
    events: tuple[tuple, ...]
    target: int

    @property
    def session_id(self) -> str:
        return f"replay-{self.customer_pk}"


def default_cutoff() -> dt.datetime | None:
    """The cutoff `manage.py evaluate` picks: the latest tenth of the customers' events at or after
    it (None: no customer has an event)."""
    from django.db import connection

    from recommendations.evaluation.split import default_cutoff as evaluation_cutoff

    with connection.cursor() as cursor:
        cursor.execute("SELECT EXTRACT(EPOCH FROM timestamp) FROM catalog_event WHERE customer_id IS NOT NULL")
        timestamps = np.fromiter((float(row[0]) for row in cursor.fetchall()), dtype=np.float64)
    if not len(timestamps):
        return None
    return dt.datetime.fromtimestamp(evaluation_cutoff(timestamps=timestamps), dt.UTC)


def session_replays(*, cutoff: dt.datetime, n: int, customers: int, seed: int) -> tuple[list[Replay], int]:
    """The replayed sessions of a seeded sample of the customers with at least `n` events before
    `cutoff` and one at or after it, and how many were sampled (those without a positive event
    on a new item after the cutoff are skipped)."""
    from django.db import connection

    from recommendations.interactions import positive_mask

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT customer_id FROM catalog_event WHERE customer_id IS NOT NULL GROUP BY customer_id"
            " HAVING count(*) FILTER (WHERE timestamp < %s) >= %s AND count(*) FILTER (WHERE timestamp >= %s) > 0"
            " ORDER BY customer_id",
            [cutoff, n, cutoff],
        )
        eligible = [row[0] for row in cursor.fetchall()]
    sample = random.Random(seed).sample(eligible, min(customers, len(eligible)))
    columns = "SELECT product_id, type, value, timestamp FROM catalog_event WHERE customer_id = %s"
    replays = []
    with connection.cursor() as cursor:
        for customer_pk in sample:
            cursor.execute(
                f"{columns} AND timestamp < %s ORDER BY timestamp DESC, id DESC LIMIT %s", [customer_pk, cutoff, n]
            )
            head = cursor.fetchall()[::-1]
            cursor.execute(f"{columns} AND timestamp >= %s ORDER BY timestamp, id", [customer_pk, cutoff])
            tail = cursor.fetchall()
            items = {row[0] for row in head}
            positive = positive_mask(
                types=np.asarray([r[1] for r in tail], dtype=str),
                values=np.asarray([np.nan if r[2] is None else r[2] for r in tail], dtype=np.float64),
            )
            target = next((r[0] for r, pos in zip(tail, positive, strict=True) if pos and r[0] not in items), None)
            if target is None:
                continue
            replays.append(Replay(customer_pk=customer_pk, events=tuple(head), target=target))
    return replays, len(sample)


def session_quality(
    *,
    cutoff: dt.datetime,
    n: int,
    customers: int,
    seed: int,
    per_route: bool = False,
    routes: dict[str, float] | None = None,
) -> tuple[list[dict], dict]:
    """hit@K of the session feed and of popularity over the replayed sessions, with the models
    rebuilt from the events before `cutoff` (rolled back); with `per_route`, also each of the
    strategy's routes alone; `routes` replaces the default strategy's route weights. The table's
    rows and what was measured."""
    from django.db import transaction

    from catalog.models import Event
    from placements.public import Placement, default_strategy
    from recommendations import pipeline
    from recommendations.contracts import RecRequest
    from recommendations.embeddings.model import embedding_model_name
    from recommendations.recall import collaborative, popularity
    from recommendations.recall.collaborative import collaborative_rebuild
    from recommendations.recall.itemcf import itemcf_neighbors_rebuild
    from recommendations.recall.popularity import popularity_rebuild

    replays, sampled = session_replays(cutoff=cutoff, n=n, customers=customers, seed=seed)
    served = default_strategy(Placement.HOME_FEED, None)
    strategy = dataclasses.replace(served, llm_rerank_top_n=None, routes=routes or served.routes)
    feeds = {"session feed": strategy}
    if per_route:
        feeds |= {f"{route} alone": dataclasses.replace(strategy, routes={route: 1.0}) for route in strategy.routes}
    hits = dict.fromkeys([*feeds, "popularity"], 0)
    try:
        with transaction.atomic():
            itemcf_neighbors_rebuild(until=cutoff)
            popularity_rebuild(until=cutoff)
            if strategy.routes.get("cf"):
                collaborative_rebuild(until=cutoff)
            # The replayed events stored as an anonymous session's (rolled back with the rest): the
            # feed reads them through its own session path.
            Event.objects.bulk_create(
                Event(
                    event_id=f"{replay.session_id}-{i}",
                    session_id=replay.session_id,
                    product_id=product_pk,
                    type=kind,
                    value=value,
                    timestamp=moment,
                )
                for replay in replays
                for i, (product_pk, kind, value, moment) in enumerate(replay.events)
            )
            # The baseline is the popularity order itself: no ranker reorders it either.
            popular = pipeline.recommend(
                request=RecRequest(customer_id=None, k=K, reasons=False),
                strategy=dataclasses.replace(strategy, ranker=None),
            )
            for replay in replays:
                request = RecRequest(customer_id=None, session_id=replay.session_id, k=K, reasons=False)
                for name, feed_strategy in feeds.items():
                    feed = pipeline.recommend(request=request, strategy=feed_strategy)
                    hits[name] += any(item.product_pk == replay.target for item in feed.items)
                hits["popularity"] += any(item.product_pk == replay.target for item in popular.items)
            transaction.set_rollback(True)
    finally:
        # This process's snapshots of the rolled-back tables.
        popularity._cache.clear()
        collaborative.reset()
    rows = [
        {
            "feed": name,
            "sessions": len(replays),
            "session_events": n,
            f"hit@{K}": round(count / len(replays), 3) if replays else None,
        }
        for name, count in hits.items()
    ]
    meta = {
        "cutoff": cutoff.isoformat(),
        "models_built_from": "events before the cutoff (rebuilt in a transaction rolled back after)",
        "n": n,
        "customers_sampled": sampled,
        "seed": seed,
        "routes": strategy.routes,
        "dropped": [name for name, value in (("llm_rerank", served.llm_rerank_top_n),) if value],
        "embedding_model": embedding_model_name(),
    }
    return rows, meta


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=5)
    parser.add_argument("--customers", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--per-route", action="store_true", help="also each of the strategy's routes alone")
    parser.add_argument(
        "--routes", type=json.loads, help="route weights instead of the default, e.g. '{\"itemcf\": 1}'"
    )
    parser.add_argument(
        "--cutoff",
        type=dt.datetime.fromisoformat,
        help="ISO time (default: the cutoff manage.py evaluate picks, the latest tenth of the events after it)",
    )
    args = parser.parse_args()
    django_setup()
    cutoff = args.cutoff or default_cutoff()
    if cutoff is None:
        parser.error("no customer has an event: load a data set first")
    if cutoff.tzinfo is None:
        cutoff = cutoff.replace(tzinfo=dt.UTC)
    rows, meta = session_quality(
        cutoff=cutoff,
        n=args.n,
        customers=args.customers,
        seed=args.seed,
        per_route=args.per_route,
        routes=args.routes,
    )
    print_table(rows)
    for key, value in meta.items():
        print(f"{key}: {value}")
    print(f"written to {write_results('session_quality', rows, meta)}")


if __name__ == "__main__":
    main()
