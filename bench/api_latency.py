"""API latency through gunicorn: p50/p95/p99 and requests/s for the home feed, similar items and
semantic search, at 10k and 100k products (the real Online Retail catalog plus generated products).

Each size runs in its own process against its own scratch database (`recsite_bench_<size>` on the
embedded server), never the demo's; a second run reuses the prepared data. Every search embeds
its query (nothing caches query vectors). Queries over 100 ms in the server are counted from the
slow-query log (bench/results/api_latency-<size>-slow-queries.log). Usage:

    .venv/bin/python bench/api_latency.py [--sizes 10000 100000] [--seconds 20] [--concurrency 4] [--search-torch]

`--search-torch` also runs search on a second server that encodes queries with torch instead of
ONNX Runtime, in the same run, for the ratio.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import RESULTS, percentile, print_table, write_results  # noqa: E402
from bench.slow_queries import print_slow_queries, slow_query_env, slow_query_summary  # noqa: E402

ADJECTIVES = ["RED", "BLUE", "PINK", "VINTAGE", "RETRO", "SMALL", "LARGE", "GLASS", "WOODEN", "ENAMEL", "FELT", "ZINC"]


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "recsite.settings")
    import django

    django.setup()


def prepare_data(total_products: int) -> None:
    """Demo data, plus generated products up to `total_products`, all embedded, neighbours built."""
    from django.core.management import call_command

    from catalog.importing.products import products_upsert
    from catalog.models import Product
    from recommendations.embeddings.service import embed_products

    call_command("migrate", verbosity=0)
    if not Product.objects.exists():
        call_command("load_demo")
        call_command("build_neighbors")
    real_titles = list(Product.objects.exclude(external_id__startswith="GEN-").values_list("title", flat=True))
    have = Product.objects.count()
    rng = random.Random(have)
    rows = []
    for n in range(have, total_products):
        words = rng.choice(real_titles).split()
        words[rng.randrange(len(words))] = rng.choice(rng.choice(real_titles).split())
        rows.append({"id": f"GEN-{n:07d}", "title": f"{rng.choice(ADJECTIVES)} {' '.join(words)}", "price": "4.95"})
    if rows:
        print(f"generating {len(rows)} products", flush=True)
        products_upsert(rows=rows)
    started = time.perf_counter()
    report = embed_products()
    if report.embedded:
        print(f"embedded {report.embedded} products in {time.perf_counter() - started:.0f} s", flush=True)


def request_plan(n: int, seed: int = 7) -> dict[str, list[str]]:
    from django.db.models import Count

    from catalog.models import Customer, Product

    rng = random.Random(seed)
    customers = list(
        Customer.objects.annotate(n=Count("events")).filter(n__gte=2).values_list("external_id", flat=True)[:2000]
    )
    products = list(Product.objects.filter(embedding__isnull=False).values_list("external_id", "title")[:5000])
    queries = ["red heart candle holder", "christmas decoration", "vintage tea cup", "kids party bag", "garden tools"]
    queries += [" ".join(t.lower().split()[:3]) for _, t in rng.sample(products, min(200, len(products)))]
    return {
        "recommendations": [f"/api/v1/recommendations/?customer={rng.choice(customers)}&k=10" for _ in range(n)],
        "similar": [f"/api/v1/products/{rng.choice(products)[0]}/similar/?k=10" for _ in range(n)],
        "search": [f"/api/v1/search/?q={rng.choice(queries).replace(' ', '+')}&k=10" for _ in range(n)],
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(
    database_url: str,
    port: int,
    workers: int,
    log: Path | None = None,
    extra_env: dict[str, str] | None = None,
    root: Path = ROOT,
) -> subprocess.Popen:
    """gunicorn serving the tree at `root` on `port`, returned once /healthz answers and every
    worker is warm; its output goes to `log` (a file: a pipe nobody reads would fill up and block
    the server's logging threads mid-run)."""
    env = {**os.environ, "DATABASE_URL": database_url, "GUNICORN_BIND": f"127.0.0.1:{port}", **(extra_env or {})}
    env["GUNICORN_WORKERS"] = str(workers)
    log = log or RESULTS / f"gunicorn-{port}.log"
    log.parent.mkdir(exist_ok=True)
    with log.open("wb") as log_file:
        proc = subprocess.Popen(
            [str(ROOT / ".venv/bin/gunicorn"), "recsite.wsgi", "-c", str(root / "deploy/gunicorn.conf.py")],
            cwd=root,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    from recommendations.warm_up import gunicorn_ready

    deadline = time.time() + 90
    while time.time() < deadline:
        # Measure only once every worker has loaded its models.
        if gunicorn_ready(port=port, log=log, workers=workers):
            return proc
        time.sleep(0.3)
    proc.kill()
    raise RuntimeError("gunicorn did not start: " + log.read_text(errors="replace")[-2000:])


def drive(
    port: int, api_key: str, paths: list[str], seconds: float, concurrency: int, keep_latencies: bool = False
) -> dict:
    """Closed-loop load: `concurrency` keep-alive clients, each sending its next request on reply.
    `keep_latencies` adds every latency (ms) to the result, for pooling several runs."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds
    headers = {"Authorization": f"Api-Key {api_key}"}

    def client(offset: int) -> None:
        nonlocal errors
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        i = offset
        mine: list[float] = []
        bad = 0
        while time.perf_counter() < stop_at:
            path = paths[i % len(paths)]
            i += concurrency
            t0 = time.perf_counter()
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            mine.append((time.perf_counter() - t0) * 1000)
            bad += response.status != 200
        conn.close()
        with lock:
            latencies.extend(mine)
            errors += bad

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(c,)) for c in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": errors,
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
        "p99_ms": percentile(latencies, 99),
        "rps": len(latencies) / elapsed,
        **({"latencies": latencies} if keep_latencies else {}),
    }


def run_size(*, size: int, seconds: float, concurrency: int, workers: int, search_torch: bool = False) -> list[dict]:
    """Prepare the `size`-product database, serve it with gunicorn, drive each endpoint; with
    `search_torch`, search again on a second server that encodes queries with torch."""
    from recommendations.embeddings.model import pick_device, pick_runtime
    from recsite.database import embedded_database_url

    database_url = embedded_database_url(database=f"recsite_bench_{size}")
    setup_django(database_url)
    from accounts.services import api_key_create

    prepare_data(size)
    _, api_key = api_key_create(name="bench")
    plan = request_plan(5000)
    slow_log = RESULTS / f"api_latency-{size}-slow-queries.log"
    servers = [(pick_runtime(pick_device()), plan, slow_query_env(slow_log))]
    if search_torch:
        servers.append(("torch", {"search": plan["search"]}, {"EMBEDDING_RUNTIME": "torch"}))
    rows = []
    for runtime, endpoints, env in servers:
        port = free_port()
        server = start_gunicorn(database_url, port, workers, extra_env=env)
        try:
            for endpoint, paths in endpoints.items():
                drive(port, api_key, paths[:200], 5.0, concurrency)  # warm-up: model load, caches
                for level in sorted({1, concurrency}):
                    result = drive(port, api_key, paths, seconds, level)
                    row = {"products": size, "endpoint": endpoint, "runtime": runtime, "concurrency": level}
                    rows.append({**row, **result})
                    print_table(rows[-1:])
        finally:
            server.terminate()
            server.wait(timeout=30)
    slow = slow_query_summary(slow_log)
    print_slow_queries(slow)
    for row in rows:
        row["slow_queries_in_run"] = slow["count"]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument(
        "--search-torch", action="store_true", help="also search with query encoding in torch, for the ratio"
    )
    parser.add_argument("--one-size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.one_size:
        rows = run_size(
            size=args.one_size,
            seconds=args.seconds,
            concurrency=args.concurrency,
            workers=args.workers,
            search_torch=args.search_torch,
        )
        print("ROWS " + json.dumps(rows))
        return
    rows = []
    for size in sorted(args.sizes):
        # One process per size: Django binds its database once per process.
        command = [sys.executable, __file__, "--one-size", str(size), "--seconds", str(args.seconds)]
        command += ["--concurrency", str(args.concurrency), "--workers", str(args.workers)]
        command += ["--search-torch"] if args.search_torch else []
        output = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True).stdout
        print(output.rsplit("ROWS ", 1)[0], end="")
        rows += json.loads(output.rsplit("ROWS ", 1)[1])
    print()
    print_table(rows)
    meta = {"seconds": args.seconds, "concurrency": args.concurrency, "gunicorn_workers": args.workers}
    print("wrote", write_results("api_latency", rows, meta))


if __name__ == "__main__":
    main()
