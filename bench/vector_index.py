"""The HNSW index against exact search: recall@10 on a set of query vectors, its size, and the same
for a full-precision `vector` index built beside it (`--vector`; the serving index is on halfvec,
half the bytes per dimension: `recommendations.embeddings.knn`), so the serving index's precision
is chosen by measurement. Each index answers the queries once unmeasured first (a cold index's
first pass reads its pages from disk).

Exact neighbours are computed here, in numpy, over every stored vector (float32): 1M products ×
384 dimensions hold 1.5 GB while it runs. The index is asked what search asks it (`ORDER BY
distance LIMIT 10`) with the session default `hnsw.ef_search` of serving
(`recommendations.recall.semantic.MIN_EF_SEARCH`), without filters. `bench/api_latency.py
--index-recall` runs it on its prepared database; on its own:

    .venv/bin/python bench/vector_index.py --database recsite_bench_1000000 [--vector]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

K = 10
QUERIES = 1000
# Serving's default first (recommendations.recall.semantic.MIN_EF_SEARCH), then wider searches.
EF_SEARCH = (100, 200, 400)
VECTOR_INDEX = "product_embedding_hnsw_vector"
# Rows fetched per round trip when reading every vector, and queries per exact-search block.
FETCH_ROWS = 50_000
EXACT_BLOCK = 100


def stored_vectors() -> tuple[np.ndarray, np.ndarray]:
    """Every stored (product id, vector), ordered by id."""
    from django.db import connection
    from pgvector.psycopg import register_vector

    connection.ensure_connection()
    raw = connection.connection
    register_vector(raw)
    ids: list[np.ndarray] = []
    vectors: list[np.ndarray] = []
    with raw.transaction(), raw.cursor(name="bench_vectors") as cursor:
        cursor.itersize = FETCH_ROWS
        cursor.execute("SELECT product_id, vector FROM catalog_productembedding ORDER BY product_id")
        while rows := cursor.fetchmany(FETCH_ROWS):
            ids.append(np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)))
            vectors.append(np.stack([_array(r[1]) for r in rows]).astype(np.float32))
    return np.concatenate(ids), np.concatenate(vectors)


def _array(value) -> np.ndarray:
    # pgvector's psycopg loader gives numpy arrays for text results and Vector objects for binary.
    return value.to_numpy() if hasattr(value, "to_numpy") else np.asarray(value)


def exact_neighbors(ids: np.ndarray, vectors: np.ndarray, queries: np.ndarray) -> list[set[int]]:
    """The K products nearest to each query by cosine (the stored vectors are unit length)."""
    found = []
    for start in range(0, len(queries), EXACT_BLOCK):
        scores = queries[start : start + EXACT_BLOCK] @ vectors.T
        top = np.argpartition(-scores, K, axis=1)[:, :K]
        found += [set(ids[row].tolist()) for row in top]
    return found


def index_answers(
    queries: np.ndarray, *, vector: bool = False, ef_search: int | None = None
) -> tuple[list[set[int]], list[float]]:
    """What the serving (halfvec) HNSW index answers for each query (the full-precision index with
    `vector`; with `ef_search`, another search width than serving's default), with each query's
    latency in ms."""
    from django.db import connection

    from recommendations.embeddings.knn import knn_order_sql
    from recommendations.embeddings.service import EMBEDDINGS_TABLE
    from recommendations.recall.semantic import MIN_EF_SEARCH

    if vector:
        order = "vector <=> %s::vector"
    else:
        order = knn_order_sql(column="vector", query_sql="%s::vector", dim=queries.shape[1])
    sql = f"SELECT product_id FROM {EMBEDDINGS_TABLE} ORDER BY {order} LIMIT {K}"
    answers, latencies = [], []
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('hnsw.ef_search', %s, false)", [str(ef_search or MIN_EF_SEARCH)])
        for query in queries:
            literal = "[" + ",".join(f"{x:.7g}" for x in query) + "]"
            started = time.perf_counter()
            cursor.execute(sql, [literal])
            answers.append({row[0] for row in cursor.fetchall()})
            latencies.append((time.perf_counter() - started) * 1000)
    return answers, latencies


def recall(found: list[set[int]], exact: list[set[int]]) -> float:
    return float(np.mean([len(f & e) / K for f, e in zip(found, exact, strict=True)]))


def vector_index_build() -> tuple[float, int]:
    """Build a full-precision `vector` index beside the serving one; (seconds, bytes)."""
    from django.db import connection

    from recommendations.embeddings.service import EMBEDDINGS_TABLE, index_build_memory_mb

    with connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX IF EXISTS {VECTOR_INDEX}")
        # Its graph is twice the halfvec one's a row: room for it in memory.
        cursor.execute("SELECT set_config('maintenance_work_mem', %s, false)", [f"{2 * index_build_memory_mb()}MB"])
        started = time.perf_counter()
        cursor.execute(
            f"CREATE INDEX {VECTOR_INDEX} ON {EMBEDDINGS_TABLE} USING hnsw"
            " (vector vector_cosine_ops) WITH (m = 16, ef_construction = 64)"
        )
        seconds = time.perf_counter() - started
        cursor.execute("RESET maintenance_work_mem")
        cursor.execute("SELECT pg_relation_size(%s)", [VECTOR_INDEX])
        (size,) = cursor.fetchone()
    return seconds, size


def index_queries(n: int = QUERIES, seed: int = 5) -> np.ndarray:
    """`n` search-like queries, embedded by the real model: the first 2-4 words of titles drawn
    from the whole catalog (generated products included)."""
    from catalog.models import Product
    from recommendations.embeddings.model import encode_texts

    rng = random.Random(seed)
    top = Product.objects.order_by("-pk").values_list("pk", flat=True).first()
    texts: set[str] = set()
    while len(texts) < n:
        pks = [rng.randint(1, top) for _ in range(n)]
        for title in Product.objects.filter(pk__in=pks).values_list("title", flat=True):
            texts.add(" ".join(title.lower().split()[: rng.randint(2, 4)]))
    return encode_texts(sorted(texts)[:n])


def _answers_report(queries: np.ndarray, exact: list[set[int]], *, label: str, vector: bool = False) -> dict:
    """Recall@10 and kNN latency of one index at each of EF_SEARCH, keyed `<label> ef_search=N`,
    after one unmeasured pass."""
    from bench.common import percentile

    index_answers(queries, vector=vector)
    report = {}
    for ef_search in EF_SEARCH:
        found, latencies = index_answers(queries, vector=vector, ef_search=ef_search)
        latencies.sort()
        report[f"{label} ef_search={ef_search}"] = {
            "recall_at_10": recall(found, exact),
            "knn_p50_ms": percentile(latencies, 50),
            "knn_p99_ms": percentile(latencies, 99),
        }
    return report


def index_report(queries: np.ndarray, *, vector: bool) -> dict:
    """Recall@10 against exact search and per-query latency of the serving index (and, with
    `vector`, of a full-precision index built for the comparison and dropped after)."""
    from django.db import connection

    from recommendations.embeddings.service import HNSW_INDEX_NAME

    started = time.perf_counter()
    ids, vectors = stored_vectors()
    exact = exact_neighbors(ids, vectors, queries)
    exact_s = time.perf_counter() - started
    del vectors
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_relation_size(%s)", [HNSW_INDEX_NAME])
        (size,) = cursor.fetchone()
    report = {"vectors": len(ids), "queries": len(queries), "exact_search_s": exact_s, "index_bytes": size}
    report |= _answers_report(queries, exact, label="halfvec")
    if vector:
        build_s, vector_size = vector_index_build()
        report["vector_index_bytes"], report["vector_build_s"] = vector_size, build_s
        report |= _answers_report(queries, exact, label="vector", vector=True)
        with connection.cursor() as cursor:
            cursor.execute(f"DROP INDEX {VECTOR_INDEX}")
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True, help="a database on the embedded server")
    parser.add_argument("--vector", action="store_true", help="also build a full-precision index and compare")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from bench.common import django_setup, write_results
    from recsite.database import embedded_database_url

    os.environ["DATABASE_URL"] = embedded_database_url(database=args.database)
    django_setup()
    load_start = os.getloadavg()
    report = index_report(index_queries(), vector=args.vector)
    print(json.dumps(report, indent=2))
    meta = {"database": args.database, "loadavg_start": load_start, "loadavg_end": os.getloadavg()}
    print("wrote", write_results("vector_index", [report], meta))


if __name__ == "__main__":
    main()
