"""Fault drill: SIGKILL during the HNSW index rebuild of a bulk re-embed. Search must keep its
index throughout, and the next run must clean up and finish.

A scratch database (`recsite_reembed_drill` on the embedded server) gets `--products` products with
stored embeddings (random unit vectors: the build, not the model, is what is drilled) and their
index. A client thread runs kNN searches the way semantic recall does, without pause, and EXPLAINs
one every 0.25 s. A subprocess runs `rebuild_vector_index()` (what a bulk `embed_products` ends
with); once PostgreSQL reports the build under way for `--kill-after` seconds, the subprocess gets
SIGKILL. Then a second subprocess runs `ensure_vector_index()` + `rebuild_vector_index()`, as the
next `embed` run does. Usage:

    .venv/bin/python bench/reembed_drill.py [--products 8000] [--kill-after 1.0]

Reported per phase (before, build, killed, next run, after): searches, errors, p50 / max ms, and
whether every EXPLAIN used the serving index; the indexes left after the kill and after the next
run; how long the killed build's backend lived on; how long the next run took.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import drill_report, percentile  # noqa: E402
from recsite.database import embedded_database_url  # noqa: E402

SCRATCH_DATABASE = "recsite_reembed_drill"
DIM = 384
SERVING_SCAN = "Index Scan using product_embedding_hnsw on"
CHILD_SETUP = "import django; django.setup(); from recommendations.embeddings import service; "
KNN_SQL = "SELECT product_id FROM catalog_productembedding ORDER BY vector <=> %s::vector LIMIT 20"


@dataclass
class Search:
    at: float
    ms: float
    ok: bool


def setup(n: int) -> str:
    url = embedded_database_url(database=SCRATCH_DATABASE)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "recsite.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from catalog.models import Product
    from recommendations.embeddings.model import embedding_model_name
    from recommendations.embeddings.service import ensure_vector_index

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE catalog_productembedding")
    Product.objects.all().delete()
    Product.objects.bulk_create(
        [Product(external_id=f"DRILL-{i:07d}", title=f"drill product {i}", text_hash=f"h{i}") for i in range(n)],
        batch_size=2000,
    )
    with connection.cursor() as cursor:
        # A random vector per row (the inner query refers to the row, so it is drawn for each).
        cursor.execute(
            "INSERT INTO catalog_productembedding (product_id, model_name, text_hash, vector, updated_at) "
            f"SELECT p.id, %s, p.text_hash, array(SELECT random() - 0.5 FROM generate_series(1, {DIM}) "
            f"WHERE p.id IS NOT NULL)::vector({DIM}), now() FROM catalog_product p",
            [embedding_model_name()],
        )
    ensure_vector_index()
    connection.close()
    return url


def searcher(url: str, stop: threading.Event, searches: list[Search], plans: list[tuple[float, bool]]) -> None:
    import numpy as np
    import psycopg

    rng = np.random.default_rng(7)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET hnsw.ef_search = 40")
        last_plan = 0.0
        while not stop.is_set():
            vector = "[" + ",".join(f"{x:.5f}" for x in rng.standard_normal(DIM)) + "]"
            started = time.perf_counter()
            try:
                conn.execute(KNN_SQL, [vector]).fetchall()
                ok = True
            except psycopg.Error:
                ok = False
            searches.append(Search(started, (time.perf_counter() - started) * 1000, ok))
            if started - last_plan >= 0.25:
                last_plan = started
                plan = "\n".join(row[0] for row in conn.execute("EXPLAIN " + KNN_SQL, [vector]).fetchall())
                plans.append((started, SERVING_SCAN in plan))


def indexes(url: str) -> dict[str, bool]:
    import psycopg

    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " JOIN pg_am a ON a.oid = c.relam WHERE i.indrelid = 'catalog_productembedding'::regclass"
            " AND a.amname = 'hnsw' ORDER BY 1"
        ).fetchall()
    return dict(rows)


def build_backends(url: str) -> int:
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT count(*) FROM pg_stat_progress_create_index WHERE relid = 'catalog_productembedding'::regclass"
        ).fetchone()[0]


def build_phase(url: str) -> tuple[str, int, int] | None:
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT phase, tuples_done, tuples_total FROM pg_stat_progress_create_index"
            " WHERE relid = 'catalog_productembedding'::regclass"
        ).fetchone()


def child(url: str, code: str) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "recsite.settings"}
    return subprocess.Popen([sys.executable, "-c", CHILD_SETUP + code], cwd=ROOT, env=env)


def phase_row(name: str, searches: list[Search], plans: list[tuple[float, bool]], start: float, end: float) -> dict:
    mine = [s for s in searches if start <= s.at < end]
    latencies = sorted(s.ms for s in mine if s.ok)
    used = [u for at, u in plans if start <= at < end]
    return {
        "phase": name,
        "seconds": round(end - start, 2),
        "searches": len(mine),
        "errors": sum(1 for s in mine if not s.ok),
        "p50_ms": round(percentile(latencies, 50), 2),
        "max_ms": round(latencies[-1], 2) if latencies else 0.0,
        "explains": len(used),
        "serving_index_in_every_explain": bool(used) and all(used),
    }


def run(*, n: int, kill_after: float) -> dict:
    url = setup(n)
    searches: list[Search] = []
    plans: list[tuple[float, bool]] = []
    stop = threading.Event()
    thread = threading.Thread(target=searcher, args=(url, stop, searches, plans), daemon=True)
    t: dict[str, float] = {"start": time.perf_counter()}
    thread.start()
    time.sleep(2.0)

    t["build"] = time.perf_counter()
    build = child(url, "service.rebuild_vector_index()")
    seen_phase = None
    while seen_phase is None or time.perf_counter() - t["build_seen"] < kill_after:
        if build.poll() is not None:
            raise SystemExit("the build finished before it could be killed: raise --products")
        progress = build_phase(url)
        if progress and progress[0].startswith("building index") and seen_phase is None:
            seen_phase, t["build_seen"] = progress, time.perf_counter()
        time.sleep(0.05)
    killed_at_phase = build_phase(url)
    build.send_signal(signal.SIGKILL)
    build.wait()
    t["killed"] = time.perf_counter()
    while build_backends(url):
        time.sleep(0.05)
    t["backend_gone"] = time.perf_counter()
    after_kill = indexes(url)
    time.sleep(1.0)

    t["next_run"] = time.perf_counter()
    rerun = child(url, "print(service.ensure_vector_index(), service.rebuild_vector_index())")
    rerun.wait()
    t["next_done"] = time.perf_counter()
    after_next = indexes(url)
    time.sleep(1.0)
    stop.set()
    thread.join()
    t["end"] = time.perf_counter()

    phases = [
        phase_row("before", searches, plans, t["start"], t["build"]),
        phase_row("build (killed)", searches, plans, t["build"], t["killed"]),
        phase_row("after SIGKILL", searches, plans, t["killed"], t["next_run"]),
        phase_row("next run", searches, plans, t["next_run"], t["next_done"]),
        phase_row("after", searches, plans, t["next_done"], t["end"]),
    ]
    summary = {
        "products": n,
        "killed_at": f"{killed_at_phase[0]} ({killed_at_phase[1]}/{killed_at_phase[2]} tuples)"
        if killed_at_phase
        else "build not reported",
        "killed_after_build_start_s": round(t["killed"] - t["build"], 2),
        "killed_backend_lived_on_s": round(t["backend_gone"] - t["killed"], 2),
        "indexes_after_kill": after_kill,
        "next_run_exit_code": rerun.returncode,
        "next_run_took_s": round(t["next_done"] - t["next_run"], 2),
        "indexes_after_next_run": after_next,
        "search_errors_total": sum(1 for s in searches if not s.ok),
        "explains_without_serving_index": sum(1 for _, used in plans if not used),
    }
    return {"phases": phases, "summary": summary}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=8000, help="products with embeddings in the scratch database")
    parser.add_argument("--kill-after", type=float, default=1.0, help="seconds into the build before SIGKILL")
    args = parser.parse_args()
    report = run(n=args.products, kill_after=args.kill_after)
    drill_report("reembed_drill", report["phases"], report["summary"], args)


if __name__ == "__main__":
    main()
