"""The web tier with and without torch: one gunicorn worker each on the demo database, side by side.

For each: seconds from start to ready (healthz answers and the worker is warm), the worker's
resident memory after N searches, search p50 / p99 (distinct queries, each asked once: encoded and
matched, never answered from what the worker keeps), and whether torch's library is mapped into the
worker. With `--fill`, the worker's resident memory again once it holds as many kept answers as it
may (`SEARCH_ANSWERS_KEPT` distinct searches, `SIMILAR_ANSWERS_KEPT` products' similar items, each
asked once). Usage (the database in the environment, e.g. the demo's, with a bundle written — any
`manage.py embed`, search or worker writes it):

    RECSITE_VAR_DIR=... .venv/bin/python bench/web_tier.py [--requests 200] [--fill]
"""

from __future__ import annotations

import argparse
import http.client
import os
import sys
import time
from pathlib import Path
from urllib.parse import quote, quote_plus

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.api_latency import drive, free_port, setup_django, start_gunicorn  # noqa: E402
from bench.common import RESULTS, print_table, write_results  # noqa: E402


def worker_pid(master: int) -> int:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return int(children[0])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def torch_mapped(pid: int) -> bool:
    return "libtorch" in Path(f"/proc/{pid}/maps").read_text()


def distinct_paths() -> tuple[list[str], list[str]]:
    """Distinct searches (titles' first two to four words) and products' similar items, as many of
    each as a worker keeps."""
    from django.conf import settings

    from catalog.public import Product

    searches: dict[str, None] = {}
    products: list[str] = []
    rows = Product.objects.filter(embedding__isnull=False).order_by("pk").values_list("external_id", "title")
    for external_id, title in rows.iterator(chunk_size=2000):
        words = title.lower().split()
        for count in (2, 3, 4):
            if len(searches) < settings.SEARCH_ANSWERS_KEPT and len(words) >= count:
                searches.setdefault(" ".join(words[:count]))
        if len(products) < settings.SIMILAR_ANSWERS_KEPT:
            products.append(external_id)
        if len(searches) >= settings.SEARCH_ANSWERS_KEPT and len(products) >= settings.SIMILAR_ANSWERS_KEPT:
            break
    return [f"/api/v1/search/?q={quote_plus(q)}&k=10" for q in searches], [
        f"/api/v1/products/{quote(p)}/similar/?k=10" for p in products
    ]


def ask_each(port: int, api_key: str, paths: list[str]) -> int:
    """Each path once, in order, on one keep-alive connection; the answers other than 2xx."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    bad = 0
    for path in paths:
        conn.request("GET", path, headers={"Authorization": f"Api-Key {api_key}"})
        response = conn.getresponse()
        response.read()
        bad += not 200 <= response.status < 300
    conn.close()
    return bad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--fill", action="store_true", help="also the worker's memory with its kept answers full")
    args = parser.parse_args()
    from recsite.database import database_url

    url = database_url()
    setup_django(url)
    from accounts.services import api_key_create
    from recommendations.embeddings.model import active_encoder

    active_encoder()  # writes the bundle beside the export if it is missing (this process may use torch)
    api_key, key = api_key_create(name="web-tier-bench")
    paths, similar = distinct_paths()
    filling = paths + similar if args.fill else []
    rows = []
    try:
        for label, device in (("torch-free (EMBEDDING_DEVICE=cpu)", "cpu"), ("torch (EMBEDDING_DEVICE=auto)", "auto")):
            port = free_port()
            started = time.perf_counter()
            proc = start_gunicorn(
                url, port, 1, log=RESULTS / f"web_tier-{device}.log", extra_env={"EMBEDDING_DEVICE": device}
            )
            ready = time.perf_counter() - started
            try:
                pid = worker_pid(proc.pid)
                result = drive(port, key, paths, seconds=max(5.0, args.requests / 50), concurrency=1)
                rows.append(
                    {
                        "web worker": label,
                        "ready_s": ready,
                        "rss_mb": rss_mb(pid),
                        "torch_mapped": torch_mapped(pid),
                        "search_p50_ms": result["p50_ms"],
                        "search_p99_ms": result["p99_ms"],
                        "requests": result["requests"],
                        "errors": result["errors"],
                    }
                )
                if filling:
                    started = time.perf_counter()
                    rows[-1] |= {
                        "filled_with": len(filling),
                        "fill_errors": ask_each(port, key, filling),
                        "fill_s": time.perf_counter() - started,
                        "rss_full_mb": rss_mb(pid),
                    }
            finally:
                proc.terminate()
                proc.wait(timeout=30)
    finally:
        api_key.delete()
    load = os.getloadavg()
    print(f"one gunicorn worker each, search only; load {load[0]:.2f}")
    print_table(rows)
    print(f"written: {write_results('web_tier', rows, {'load': load})}")


if __name__ == "__main__":
    main()
