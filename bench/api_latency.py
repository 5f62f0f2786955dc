"""API latency through gunicorn: p50/p95/p99, requests/s and errors (answers other than 2xx) for
the home feed, similar items and search, and the storefront's rows: an anonymous session's feed,
a filtered feed, a feed's next page, hybrid search with typos and personalisation, and bought
together; at 10k and 100k products (the real Online Retail catalog plus generated products).
`ENDPOINTS` says what each row measures; the run prints it under the table, with what a sample of
each storefront row's answers said (the session feed made from the session, typos corrected,
bought together served from co-purchases).

Each size runs in its own process against its own scratch database (`recsite_bench_<size>` on the
embedded server), never the demo's; a second run reuses the prepared data. Preparing a size loads
the demo data, builds neighbours (item-CF and co-purchases), generates and embeds products up to
the size, and stores 500 anonymous sessions' events through the events service. A web process
keeps query embeddings and the answers of searches and similar items (`kept_hits`: the share of a
row's requests answered from them); a last server keeps none (runtime `nothing kept`), for search,
hybrid search and similar items side by side. Queries over 100 ms in the server are counted
from the slow-query log (bench/results/api_latency-<size>-slow-queries.log). Usage:

    .venv/bin/python bench/api_latency.py [--sizes 10000 100000] [--seconds 20] [--concurrency 4] [--search-torch]

`--search-torch` also runs search on a second server that encodes queries with torch instead of
ONNX Runtime, in the same run, for the ratio. The plan's customers get their home feeds computed
ahead before the run (`feeds_ahead`, as `manage.py precompute_feeds` does for the most recently
active); each home-feed row says which share of its requests found them (`ahead_hits`), and a last
row serves the home feed from a server that computes every request's candidates on the request
(`RECALL_AHEAD_SECONDS=0`), side by side.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import random
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import quote, quote_plus

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import RESULTS, percentile, print_table, write_results  # noqa: E402
from bench.search_quality import swap_letters  # noqa: E402
from bench.slow_queries import print_slow_queries, slow_query_env, slow_query_summary  # noqa: E402
from bench.substitute import Parts, fitted, part_vectors  # noqa: E402
from bench.vector_index import index_queries, index_report  # noqa: E402

SESSIONS = 500
# The filtered feed's price range (the catalog has no brands or categories: Online Retail has none).
FILTER_PRICE = ("1.00", "5.00")
NEXT_PAGE_LISTS = 300
CHECKED_ANSWERS = 100
FLOOR_SAMPLES = 300
# What each row measures (all through gunicorn, k=10).
ENDPOINTS = {
    "recommendations": "home feed of a customer with 2+ events (runtime `on request`: candidates never kept ahead)",
    "similar": "similar items of an embedded product",
    "search": "served search (hybrid, the built-in strategy): titles' first 3 words and 5 phrases (205 distinct"
    " queries, their embeddings and answers kept by a worker after its first; runtime `nothing kept`: every query"
    " encoded and matched), no typos, no shopper",
    "session feed": "home feed of an anonymous session (3-6 views and a cart), no customer",
    "filtered feed": f"a customer's home feed with price_min={FILTER_PRICE[0]}&price_max={FILTER_PRICE[1]}",
    "next page": "a customer's home feed, page 2 (page_size=10; page 1's cursor fetched before timing, only page 2"
    " timed)",
    "hybrid search": "served search (hybrid): 40% title fragments, 30% the same with two letters swapped, 20% SKUs,"
    " 10% phrases; a third with a session (personalised); most typos and SKUs asked once",
    "bought together": "a cart of 1-3 products of one real basket (a customer's purchases of one day)",
}
GENERATE_CHUNK = 50_000
ADJECTIVES = ["RED", "BLUE", "PINK", "VINTAGE", "RETRO", "SMALL", "LARGE", "GLASS", "WOODEN", "ENAMEL", "FELT", "ZINC"]


# One strong key a bench process and the servers it starts share (production settings refuse a weak one).
_BENCH_SECRET_KEY = secrets.token_urlsafe(50)


def production_env() -> dict[str, str]:
    """The settings the deployed web tier runs with, DEBUG off, over plain HTTP on 127.0.0.1 as the
    demo serves. With DEBUG on (the settings' default for development), Django logs every statement
    of every connection: it composes each one's SQL with its parameters (a query vector's 384
    floats, a candidates' array) and keeps up to 9,000 a connection, which the request cycle never
    clears on `recsite.fanout`'s threads; a bench would time and size that."""
    return {
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": _BENCH_SECRET_KEY,
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "DJANGO_SECURE_COOKIES": "0",
        "DJANGO_HSTS_SECONDS": "0",
    }


def setup_django(database_url: str) -> None:
    """Django in this process on `database_url`, with `production_env()` where the environment
    does not say otherwise."""
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "recsite.settings")
    for name, value in production_env().items():
        os.environ.setdefault(name, value)
    import django

    django.setup()


def prepare_data(total_products: int, real_embeddings: int | None = None) -> dict:
    """Demo data, plus generated products up to `total_products`, all embedded, neighbours built.

    With `real_embeddings`, only that many generated products are embedded by the real model; the
    rest get `bench.substitute`'s fitted stand-in (its fit and fidelity are returned), written with
    the serving index dropped and the index then built once (its build time and size returned)."""
    from django.core.management import call_command

    from catalog.models import Product
    from catalog.public import search_index_merge_pending, search_vocabulary_refresh

    call_command("migrate", verbosity=0)
    if not Product.objects.exists():
        call_command("load_demo", no_embed_request=True)
        call_command("build_neighbors")
    parts = products_generate(total_products)
    if real_embeddings is not None and parts:
        report = substitute_embed(parts, real_embeddings)
    else:
        report = real_embed()
    if not _copurchases_built():
        # A database prepared before bought together served co-purchases.
        call_command("build_neighbors")
    # The generated products' words, as the beat's refresh would count them in a live shop (search
    # corrects typos and picks the word its index is asked for by these counts), and their search
    # index entries merged, as the beat's merge would.
    search_index_merge_pending()
    search_vocabulary_refresh()
    sessions_prepare()
    return report


def products_generate(total_products: int) -> dict[str, Parts]:
    """Generated products up to `total_products` (written in chunks): a real product's title with
    one word swapped for another title's and an adjective in front, at the source product's price
    (the price filters then leave the same share of generated products as of real ones). Returns
    every generated product's embedding text with what it is made of: the draw is seeded, so a
    database prepared before (or half-way) gets the same products and parts."""
    from catalog.importing.products import products_upsert
    from catalog.models import Product

    real_products = Product.objects.exclude(external_id__startswith="GEN-").order_by("pk")
    real = [(title, str(price or "4.95")) for title, price in real_products.values_list("title", "price")]
    have = Product.objects.count()
    rng = random.Random(len(real))
    parts: dict[str, Parts] = {}
    rows = []
    for n in range(len(real), total_products):
        title, price = rng.choice(real)
        words = title.split()
        inserted = rng.choice(rng.choice(real)[0].split())
        at = rng.randrange(len(words))
        removed, words[at] = words[at], inserted
        adjective = rng.choice(ADJECTIVES)
        made = f"{adjective} {' '.join(words)}"
        parts[made.strip()] = Parts(source=title.strip(), adjective=adjective, inserted=inserted, removed=removed)
        if n < have:
            continue
        rows.append({"id": f"GEN-{n:07d}", "title": made, "price": price})
        if len(rows) == GENERATE_CHUNK or n == total_products - 1:
            products_upsert(rows=rows)
            print(f"generated {n + 1 - have:,} of {total_products - have:,} products", flush=True)
            rows = []
    return parts


def real_embed() -> dict:
    from recommendations.embeddings.service import embed_products

    started = time.perf_counter()
    report = embed_products()
    if report.embedded:
        print(f"embedded {report.embedded} products in {time.perf_counter() - started:.0f} s", flush=True)
    return {}


def substitute_embed(parts: dict[str, Parts], real_embeddings: int) -> dict:
    """The real model for the real catalog and `real_embeddings` generated products, the fitted
    substitute for the rest; then one index build, timed."""
    from django.db import connection

    from catalog.models import Product, ProductEmbedding
    from recommendations.embeddings import service
    from recommendations.embeddings.budget import embed_plan_logged
    from recommendations.embeddings.model import embedding_model_name, encode_texts

    started = time.perf_counter()
    real_count = Product.objects.exclude(external_id__startswith="GEN-").count()
    # The real model embeds the first products by pk (a preparation stopped half-way kept them).
    missing = real_count + real_embeddings - ProductEmbedding.objects.count()
    if missing > 0:
        done = service.embed_products(limit=missing)
        print(f"real model: {done.embedded:,} products in {done.duration_s:.0f} s", flush=True)
    share = list(
        ProductEmbedding.objects.filter(product__external_id__startswith="GEN-")
        .order_by("product_id")
        .values_list("product__title", "vector")[:real_embeddings]
    )
    share_parts = [parts[title.strip()] for title, _ in share]
    real = np.stack([np.asarray(vector, dtype=np.float32) for _, vector in share])
    substitute, fit_report = fitted(share_parts, real, vectors=part_vectors(list(parts.values())))
    print(f"substitute: {fit_report}", flush=True)

    def encode(texts: list[str], *, batch_size: int | None = None) -> np.ndarray:
        known = [parts.get(text) for text in texts]
        if all(known):
            return substitute.encode(known)
        return encode_texts(texts, batch_size=batch_size)

    with connection.cursor() as cursor:
        # A new catalog's first load: one build after the write costs less than a million inserts
        # into a live graph (the product's `embed` keeps the serving index; a bench database has
        # nobody searching yet).
        cursor.execute(f"DROP INDEX IF EXISTS {service.HNSW_INDEX_NAME}")
    model_name = embedding_model_name()
    plan = embed_plan_logged(pending=service.products_to_embed(model_name=model_name), batch_size=None, limit=None)
    written, _ = service.embed_chunks(model_name=model_name, plan=plan, limit=None, progress=None, encode=encode)
    wrote_s = time.perf_counter() - started
    print(f"substitute: wrote {written:,} vectors ({wrote_s:.0f} s so far)", flush=True)
    build_started = time.perf_counter()
    service.ensure_vector_index()
    build_s = time.perf_counter() - build_started
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_relation_size(%s)", [service.HNSW_INDEX_NAME])
        (index_bytes,) = cursor.fetchone()
    print(f"HNSW build {build_s:.0f} s, {index_bytes / 2**20:,.0f} MB", flush=True)
    return {
        "real_model_products": real_count + real_embeddings,
        "substitute_products": written,
        "substitute": fit_report,
        "hnsw_build_s": build_s,
        "hnsw_build_memory_mb": service.index_build_memory_mb(),
        "hnsw_bytes": index_bytes,
    }


def _copurchases_built() -> bool:
    from django.db import connection

    from recommendations.recall.copurchase import TABLE

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {TABLE.name})")
        return cursor.fetchone()[0]


def purchase_groups(group_by: str) -> list[list[str]]:
    """The product ids customers bought, one sorted list per group of `GROUP BY {group_by}` (a
    fixed SQL fragment of this file, never input)."""
    from django.db import connection

    from catalog.models import EventType

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT array_agg(DISTINCT p.external_id) FROM catalog_event e JOIN catalog_product p"
            " ON p.id = e.product_id WHERE e.customer_id IS NOT NULL AND e.type = %s"
            f" GROUP BY {group_by}",
            [EventType.PURCHASE.value],
        )
        return [sorted(row[0]) for row in cursor.fetchall()]


def sessions_prepare(n: int = SESSIONS, seed: int = 11) -> None:
    """`n` anonymous sessions (`bench-s-NNNN`) with 3-6 view and cart events each, through the
    events API's service: each browses products one real customer bought (a shopper's interests
    hang together), at fixed times, so a second run stores nothing new (same event ids)."""
    from catalog.importing.events import events_ingest
    from catalog.models import EventType

    interests = purchase_groups("e.customer_id HAVING count(DISTINCT e.product_id) >= 6 ORDER BY e.customer_id")
    rng = random.Random(seed)
    start = dt.datetime(2011, 12, 10, tzinfo=dt.UTC)
    rows = []
    for s in range(n):
        products = rng.sample(rng.choice(interests), rng.randint(3, 6))
        for i, product in enumerate(products):
            rows.append(
                {
                    "session": session_id(s),
                    "product": product,
                    "type": EventType.ADD_TO_CART.value if i == len(products) - 1 else EventType.VIEW.value,
                    "timestamp": (start + dt.timedelta(minutes=s, seconds=20 * i)).isoformat(),
                }
            )
    report = events_ingest(rows=rows)
    if report.errors or report.conflicts:
        raise RuntimeError(f"session events refused: {(report.errors + report.conflicts)[:3]}")
    print(f"sessions: {n}, events stored {report.created}, already there {report.unchanged}", flush=True)


def session_id(n: int) -> str:
    return f"bench-s-{n:04d}"


def server_memory() -> dict:
    """The database server's shared buffers beside the serving index they should hold: a kNN
    query that finds its index pages outside them copies each from the OS cache (docs/scale.md;
    the embedded server's `RECSITE_EMBEDDED_SHARED_BUFFERS`)."""
    from django.db import connection

    from recommendations.embeddings import service

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('shared_buffers'), pg_relation_size(%s) / 1048576", [service.HNSW_INDEX_NAME]
        )
        shared_buffers, index_mb = cursor.fetchone()
    return {"shared_buffers": shared_buffers, "hnsw_index_mb": index_mb}


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


def storefront_plan(n: int, seed: int = 7) -> dict[str, list[str]]:
    """Paths for the storefront rows (`ENDPOINTS` says what each measures). "next page" holds
    first pages here: `second_pages` turns them into their second pages on a running server."""
    from django.db.models import Count

    from catalog.models import Customer, Product

    rng = random.Random(seed)
    customers = list(
        Customer.objects.annotate(n=Count("events"))
        .filter(n__gte=2)
        .order_by("pk")
        .values_list("external_id", flat=True)[:2000]
    )
    sessions = [session_id(s) for s in range(SESSIONS)]
    real = list(
        Product.objects.exclude(external_id__startswith="GEN-").order_by("pk").values_list("external_id", "title")
    )
    phrases = []
    for _, title in rng.sample(real, min(400, len(real))):
        words = title.lower().split()
        start = rng.randrange(0, max(1, len(words) - 2))
        phrases.append(" ".join(words[start : start + rng.choice((2, 3))]))
    fixed = ["red heart candle holder", "christmas decoration", "vintage tea cup", "kids party bag", "garden tools"]

    def search_query() -> str:
        draw = rng.random()
        if draw < 0.4:
            return rng.choice(phrases)
        if draw < 0.7:
            return swap_letters(rng.choice(phrases), rng)
        if draw < 0.9:
            return rng.choice(real)[0]
        return rng.choice(fixed)

    def search_path() -> str:
        shopper = f"&session={rng.choice(sessions)}" if rng.random() < 1 / 3 else ""
        return f"/api/v1/search/?q={quote_plus(search_query())}&k=10{shopper}"

    # Real baskets (one customer's purchases of one day): a cart holds things bought together.
    baskets = purchase_groups("e.customer_id, (e.timestamp AT TIME ZONE 'UTC')::date ORDER BY min(e.id)")
    price_min, price_max = FILTER_PRICE
    feed = "/api/v1/recommendations/?customer={}&k=10"
    return {
        "session feed": [f"/api/v1/recommendations/?session={rng.choice(sessions)}&k=10" for _ in range(n)],
        "filtered feed": [
            feed.format(rng.choice(customers)) + f"&price_min={price_min}&price_max={price_max}" for _ in range(n)
        ],
        "next page": [
            f"/api/v1/recommendations/?customer={c}&page_size=10" for c in rng.sample(customers, NEXT_PAGE_LISTS)
        ],
        "hybrid search": [search_path() for _ in range(n)],
        "bought together": [
            "/api/v1/bought-together/?products="
            + ",".join(rng.sample(basket, min(len(basket), rng.randint(1, 3))))
            + "&k=10"
            for basket in (rng.choice(baskets) for _ in range(n))
        ],
    }


def floors(plan: dict[str, list[str]], samples: int = FLOOR_SAMPLES) -> dict[str, dict]:
    """Each request's floor, in this process (no HTTP, no Django request cycle), one at a time:
    the home feed's route queries (history and the strategy's recall routes), search's query
    encoding plus one kNN query, similar items' kNN query from the stored vector."""
    from urllib.parse import parse_qs, urlsplit

    from catalog.models import Product
    from placements.public import Placement, built_in_strategy
    from recommendations.contracts import RecRequest
    from recommendations.embeddings.model import encode_texts
    from recommendations.pipeline import request_history
    from recommendations.recall import semantic
    from recommendations.recall.stage import recall_stage

    def arg(path: str, name: str) -> str:
        return parse_qs(urlsplit(path).query)[name][0]

    strategy = built_in_strategy(Placement.HOME_FEED)

    def home_feed(path: str) -> None:
        request = RecRequest(customer_id=arg(path, "customer"), k=10)
        history, _ = request_history(request)
        recall_stage(request=request, strategy=strategy, history=history, excluded_pks=history.purchased_pks)

    def search(path: str) -> None:
        vector = encode_texts([arg(path, "q")])[0]
        semantic.semantic_candidates(vector=vector, n=10, knn_filter=semantic.KnnFilter())

    product_pks = dict(Product.objects.values_list("external_id", "pk").filter(embedding__isnull=False)[:20_000])

    def similar_product(path: str) -> str:
        # /api/v1/products/{id}/similar/?k=10
        return path.split("/")[4]

    def similar(path: str) -> None:
        pk = product_pks[similar_product(path)]
        semantic.semantic_neighbors(product_pk=pk, n=10, knn_filter=semantic.KnnFilter())

    def home_feed_ahead(path: str) -> None:
        # What a request whose candidates were computed ahead cannot do without: the history, the
        # cache read of the personal routes' candidates, popularity and fusion.
        request = RecRequest(customer_id=arg(path, "customer"), k=10)
        history, _ = request_history(request)
        recall_stage(
            request=request, strategy=strategy, history=history, excluded_pks=history.purchased_pks, ahead=True
        )

    measured = {}
    calls = (
        ("recommendations", home_feed),
        ("recommendations ahead", home_feed_ahead),
        ("search", search),
        ("similar", similar),
    )
    for endpoint, call in calls:
        asked = plan["recommendations" if endpoint == "recommendations ahead" else endpoint]
        paths = [p for p in asked if endpoint != "similar" or similar_product(p) in product_pks][:samples]
        for path in paths[:20]:
            call(path)  # warm-up: the encoder, the caches
        latencies = []
        for path in paths:
            started = time.perf_counter()
            call(path)
            latencies.append((time.perf_counter() - started) * 1000)
        latencies.sort()
        measured[endpoint] = {"p50_ms": percentile(latencies, 50), "p99_ms": percentile(latencies, 99)}
        print(
            f"floor of {endpoint}: p50 {measured[endpoint]['p50_ms']:.1f} ms, p99 {measured[endpoint]['p99_ms']:.1f} ms"
        )
    return measured


def feeds_ahead(plan: dict[str, list[str]]) -> dict:
    """The home feeds of every customer the plan asks for, computed ahead of the run (what
    `manage.py precompute_feeds` does for the most recently active customers), timed; the cache's
    memory before and after."""
    from urllib.parse import parse_qs, urlsplit

    import redis
    from django.conf import settings

    from recommendations.feeds.service import feeds_precompute

    customers = sorted(
        {
            parse_qs(urlsplit(path).query)["customer"][0]
            for endpoint in ("recommendations", "filtered feed", "next page")
            for path in plan[endpoint]
        }
    )
    cache = redis.Redis.from_url(settings.CACHES["default"]["LOCATION"])
    before, keys_before = cache.info("memory")["used_memory"], cache.dbsize()
    report = feeds_precompute(customer_ids=customers)
    grown, new_keys = cache.info("memory")["used_memory"] - before, cache.dbsize() - keys_before
    measured = {
        "customers": report.customers,
        "entries": report.entries,
        "seconds": round(report.seconds, 1),
        "ms_per_customer": round(report.seconds / max(report.customers, 1) * 1000, 1),
        # Over the keys this run added: entries a run before kept are replaced, not added.
        "cache_bytes_per_entry": round(grown / new_keys) if new_keys > 0 else None,
    }
    print(f"feeds computed ahead: {measured}", flush=True)
    return measured


def kept_outcomes(port: int) -> dict[str, float]:
    """The server's counts of home-feed requests by where their candidates came from, and of
    searches and similar items by whether the process kept their answer (/metrics):
    {"ahead hit": n, "kept miss": n, …}."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    conn.close()
    outcomes: dict[str, float] = {}
    for name, pattern in (
        ("ahead", r'^recsite_recall_ahead_total\{outcome="(\w+)"\} ([0-9.e+]+)$'),
        ("kept", r'^recsite_kept_answers_total\{kind="\w+",outcome="(\w+)"\} ([0-9.e+]+)$'),
    ):
        for outcome, value in re.findall(pattern, text, flags=re.M):
            outcomes[f"{name} {outcome}"] = outcomes.get(f"{name} {outcome}", 0.0) + float(value)
    return outcomes


def kept_shares(*, before: dict[str, float], after: dict[str, float]) -> dict:
    """The share of a row's home-feed requests whose candidates were computed ahead (`ahead_hits`),
    and of its searches or similar items answered from what the process kept (`kept_hits`)."""
    shares = {}
    for name in ("ahead", "kept"):
        hits, misses = (after.get(f"{name} {o}", 0.0) - before.get(f"{name} {o}", 0.0) for o in ("hit", "miss"))
        if hits + misses:
            shares[f"{name}_hits"] = round(hits / (hits + misses), 3)
    return shares


def filter_share() -> float:
    """The share of in-stock products the filtered feed's price range keeps."""
    from catalog.models import Product

    price_min, price_max = FILTER_PRICE
    in_stock = Product.objects.filter(in_stock=True)
    return in_stock.filter(price__gte=price_min, price__lte=price_max).count() / max(1, in_stock.count())


def get_json(conn: http.client.HTTPConnection, path: str, headers: dict[str, str]) -> tuple[int, dict]:
    """The status and JSON body of GET `path`."""
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    return response.status, json.loads(response.read())


def second_pages(port: int, api_key: str, first_pages: list[str]) -> list[str]:
    """Each list's second page: its first page is fetched here, before any timing, and the
    second page's path carries the first's `next_cursor` (cursors do not expire). A first page
    that is not a 200 is left out, and the run fails when none is."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Api-Key {api_key}"}
    paths = []
    for path in first_pages:
        status, body = get_json(conn, path, headers)
        if status == 200 and body["next_cursor"]:
            paths.append(f"{path}&cursor={quote(body['next_cursor'], safe='')}")
    conn.close()
    if not paths:
        raise RuntimeError("no first page answered with a cursor")
    return paths


def answers_check(port: int, api_key: str, endpoint: str, paths: list[str]) -> str:
    """What a sample of an endpoint's answers say about the route they measure (not timed); empty
    for the rows that need no check."""
    if endpoint not in {"session feed", "filtered feed", "next page", "hybrid search", "bought together"}:
        return ""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Api-Key {api_key}"}
    replies = [get_json(conn, path, headers) for path in paths[:CHECKED_ANSWERS]]
    conn.close()
    answers = [body for status, body in replies if status == 200]
    failed = Counter(status for status, _ in replies if status != 200)
    said = f"{len(answers)} of {len(replies)} answered 200" + (f" (others: {dict(failed)})" if failed else "")
    sizes = dict(Counter(len(a["items"]) for a in answers))
    if endpoint == "session feed":
        return f"{said}; history: {dict(Counter(a['history'] for a in answers))}"
    if endpoint == "hybrid search":
        corrected = sum(a["corrected"] is not None for a in answers)
        personalized = sum(a["personalized"] for a in answers)
        matched = dict(Counter(a["matched"] for a in answers))
        return f"{said}; corrected {corrected}, personalized {personalized}, matched {matched}"
    if endpoint == "bought together":
        return f"{said}; source: {dict(Counter(a['source'] for a in answers))}"
    if endpoint == "filtered feed":
        return f"{said}; the price range keeps {filter_share():.0%} of in-stock products; items per answer: {sizes}"
    return f"{said}; items per answer: {sizes}"


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
    """gunicorn serving the tree at `root` on `port` with `production_env()` (unless the environment
    says otherwise), returned once /healthz answers and every worker is warm; its output goes to
    `log` (a file: a pipe nobody reads would fill up and block the server's logging threads
    mid-run)."""
    env = {
        **production_env(),
        **os.environ,
        "DATABASE_URL": database_url,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        **(extra_env or {}),
    }
    env["GUNICORN_WORKERS"] = str(workers)
    # The bench measures latency, not the key's rate limit (6,000 a minute by default).
    env.setdefault("API_KEY_RATE", "100000000/min")
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
            bad += not 200 <= response.status < 300
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


def run_size(
    *,
    size: int,
    seconds: float,
    concurrency: int,
    workers: int,
    search_torch: bool = False,
    real_embeddings: int | None = None,
    prepare_only: bool = False,
    index_recall: bool = False,
    vector_index: bool = False,
) -> tuple[list[dict], dict]:
    """Prepare the `size`-product database, serve it with gunicorn, drive each endpoint; with
    `search_torch`, search again on a second server that encodes queries with torch."""
    from recommendations.embeddings.model import pick_device, pick_runtime
    from recsite.database import embedded_database_url

    database_url = embedded_database_url(database=f"recsite_bench_{size}")
    setup_django(database_url)
    from accounts.services import api_key_create

    prepared_file = RESULTS / f"api_latency-{size}-prepare.json"
    prepared = prepare_data(size, real_embeddings)
    if prepared:
        # Kept: a later run on the prepared database measures without preparing again.
        prepared_file.write_text(json.dumps(prepared, indent=2))
    if prepare_only:
        return [], {"prepared": prepared}
    if prepared_file.exists():
        prepared = json.loads(prepared_file.read_text())
    _, api_key = api_key_create(name="bench")
    plan = request_plan(5000)
    search_paths = plan["search"]
    plan.update(storefront_plan(5000))
    extra = {"prepared": prepared, "server": server_memory(), "ahead": feeds_ahead(plan), "floors": floors(plan)}
    print(f"server: {extra['server']}", flush=True)
    if index_recall:
        extra["index"] = index_report(index_queries(), vector=vector_index)
        print(f"index: {extra['index']}", flush=True)
    slow_log = RESULTS / f"api_latency-{size}-slow-queries.log"
    servers = [(pick_runtime(pick_device()), plan, slow_query_env(slow_log))]
    if search_torch:
        servers.append(("torch", {"search": search_paths}, {"EMBEDDING_RUNTIME": "torch"}))
    # Side by side: the home feed computing its candidates on every request, as before they were kept;
    # search encoding and matching every query, as a query never asked before is.
    servers.append(("on request", {"recommendations": plan["recommendations"]}, {"RECALL_AHEAD_SECONDS": "0"}))
    nothing_kept = {"similar": plan["similar"], "search": search_paths, "hybrid search": plan["hybrid search"]}
    kept_none = {"QUERY_VECTORS_KEPT": "0", "SEARCH_ANSWERS_KEPT": "0", "SIMILAR_ANSWERS_KEPT": "0"}
    servers.append(("nothing kept", nothing_kept, kept_none))
    rows = []
    for runtime, endpoints, env in servers:
        port = free_port()
        server = start_gunicorn(database_url, port, workers, extra_env=env)
        try:
            for endpoint, paths in endpoints.items():
                if endpoint == "next page":
                    paths = second_pages(port, api_key, paths)
                drive(port, api_key, paths[:200], 5.0, concurrency)  # warm-up: model load, caches
                check = answers_check(port, api_key, endpoint, paths)
                for level in sorted({1, concurrency}):
                    outcomes = kept_outcomes(port)
                    result = drive(port, api_key, paths, seconds, level)
                    row = {"products": size, "endpoint": endpoint, "runtime": runtime, "concurrency": level}
                    with_floor = runtime in (servers[0][0], "nothing kept")
                    floor = extra["floors"].get(endpoint) if level == 1 and with_floor else None
                    row |= {"floor_p50_ms": floor["p50_ms"]} if floor else {}
                    if floor and endpoint == "recommendations":
                        row["floor_ahead_p50_ms"] = extra["floors"]["recommendations ahead"]["p50_ms"]
                    row |= kept_shares(before=outcomes, after=kept_outcomes(port))
                    rows.append({**row, **result, **({"check": check} if check else {})})
                    print_table(rows[-1:])
        finally:
            server.terminate()
            server.wait(timeout=30)
    slow = slow_query_summary(slow_log)
    print_slow_queries(slow)
    for row in rows:
        row["slow_queries_in_run"] = slow["count"]
    return rows, extra


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument(
        "--search-torch", action="store_true", help="also search with query encoding in torch, for the ratio"
    )
    parser.add_argument(
        "--real-embeddings",
        type=int,
        help="embed only this many generated products with the real model, the rest with bench.substitute's fit",
    )
    parser.add_argument("--prepare-only", action="store_true", help="prepare the databases, measure nothing")
    parser.add_argument(
        "--index-recall", action="store_true", help="recall@10 of the HNSW index against exact search, 1,000 queries"
    )
    parser.add_argument(
        "--vector-index", action="store_true", help="with --index-recall: also a full-precision index, compared"
    )
    parser.add_argument("--one-size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.one_size:
        rows, extra = run_size(
            size=args.one_size,
            seconds=args.seconds,
            concurrency=args.concurrency,
            workers=args.workers,
            search_torch=args.search_torch,
            real_embeddings=args.real_embeddings,
            prepare_only=args.prepare_only,
            index_recall=args.index_recall,
            vector_index=args.vector_index,
        )
        print("ROWS " + json.dumps({"rows": rows, "extra": extra}))
        return
    load_start = os.getloadavg()
    rows = []
    sizes: dict[int, dict] = {}
    for size in sorted(args.sizes):
        # One process per size: Django binds its database once per process.
        command = [sys.executable, __file__, "--one-size", str(size), "--seconds", str(args.seconds)]
        command += ["--concurrency", str(args.concurrency), "--workers", str(args.workers)]
        command += ["--search-torch"] if args.search_torch else []
        command += ["--real-embeddings", str(args.real_embeddings)] if args.real_embeddings else []
        command += ["--prepare-only"] if args.prepare_only else []
        command += ["--index-recall"] if args.index_recall else []
        command += ["--vector-index"] if args.vector_index else []
        done = subprocess.run(command, stdout=subprocess.PIPE, text=True)
        output = done.stdout
        print(output.rsplit("ROWS ", 1)[0], end="")
        # After printing: the rows measured before a failure stay readable.
        done.check_returncode()
        measured = json.loads(output.rsplit("ROWS ", 1)[1])
        rows += measured["rows"]
        sizes[size] = measured["extra"]
    print()
    print_table(rows)
    print()
    for endpoint, what in ENDPOINTS.items():
        checks = sorted({row["check"] for row in rows if row["endpoint"] == endpoint and "check" in row})
        print(f"{endpoint}: {what}" + "".join(f"\n    answers: {check}" for check in checks))
    meta = {
        "seconds": args.seconds,
        "concurrency": args.concurrency,
        "gunicorn_workers": args.workers,
        "endpoints": ENDPOINTS,
        "loadavg_start": load_start,
        "loadavg_end": os.getloadavg(),
        "sizes": sizes,
    }
    print("wrote", write_results("api_latency", rows, meta))


if __name__ == "__main__":
    main()
