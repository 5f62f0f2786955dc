"""Search's lexical route alone: `lexical_candidates` (n = 100, no filter) on the distinct queries of
`bench/api_latency.py`'s search row, in this process, each asked once untimed (warm caches) and
then timed; p50 / p90 / p99 / mean, the slowest queries with what the GIN index was asked for, and
a digest of every answer (two runs on one database compare their answers by it).

Against `bench/api_latency.py`'s database of a size (`recsite_bench_<size>`, prepared by it) or
`DATABASE_URL`:

    .venv/bin/python bench/lexical_route.py --size 1000000 [--requests 400] [--rounds 2]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from pathlib import Path
from urllib.parse import unquote_plus

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.api_latency import request_plan, setup_django  # noqa: E402
from bench.common import percentile, print_table, write_results  # noqa: E402

SLOWEST = 12


def search_queries(requests: int) -> list[str]:
    """The distinct queries of api_latency's search row (its plan of `requests` requests)."""
    paths = request_plan(requests)["search"]
    return list(dict.fromkeys(unquote_plus(path.split("q=", 1)[1].split("&", 1)[0]) for path in paths))


def time_queries(queries: list[str]) -> tuple[dict[str, float], dict[str, list]]:
    """Each query's time (ms, after one untimed call) and answer (pk, score rounded)."""
    from recommendations.recall.lexical import lexical_candidates
    from recommendations.recall.semantic import KnnFilter

    times, answers = {}, {}
    for query in queries:
        lexical_candidates(query=query, n=100, knn_filter=KnnFilter())
        started = time.perf_counter()
        found = lexical_candidates(query=query, n=100, knn_filter=KnnFilter())
        times[query] = (time.perf_counter() - started) * 1000
        answers[query] = [(c.product_pk, round(c.score, 6)) for c in found]
    return times, answers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, help="bench/api_latency.py's database of this size")
    parser.add_argument("--requests", type=int, default=400, help="api_latency's plan size the queries come from")
    parser.add_argument("--rounds", type=int, default=2, help="times through the queries; the last is reported")
    args = parser.parse_args()

    if args.size:
        from recsite.database import embedded_database_url

        setup_django(embedded_database_url(database=f"recsite_bench_{args.size}"))
    else:
        setup_django(os.environ["DATABASE_URL"])
    from recommendations.recall.lexical import lexical_index_tsquery
    from recommendations.recall.spelling import vocabulary_current

    queries = search_queries(args.requests)
    load_start = os.getloadavg()
    rows = []
    for round_number in range(1, args.rounds + 1):
        times, answers = time_queries(queries)
        ordered = sorted(times.values())
        rows.append(
            {
                "round": round_number,
                "queries": len(queries),
                "p50_ms": percentile(ordered, 50),
                "p90_ms": percentile(ordered, 90),
                "p99_ms": percentile(ordered, 99),
                "mean_ms": sum(ordered) / len(ordered),
            }
        )
        print_table(rows[-1:])
    vocabulary = vocabulary_current()
    slowest = [
        {"query": query, "ms": times[query], "index_asked": lexical_index_tsquery(query, vocabulary=vocabulary)}
        for query in sorted(times, key=times.get, reverse=True)[:SLOWEST]
    ]
    for row in slowest:
        print(f"  {row['ms']:7.1f} ms  {row['query']!r}  index asked: {row['index_asked'] or 'every word'}")
    digest = hashlib.sha256(repr(sorted(answers.items())).encode()).hexdigest()[:16]
    print("answers digest:", digest)
    meta = {
        "size": args.size,
        "loadavg_start": load_start,
        "loadavg_end": os.getloadavg(),
        "slowest": slowest,
        "answers_digest": digest,
    }
    print("wrote", write_results("lexical_route", rows, meta))


if __name__ == "__main__":
    main()
