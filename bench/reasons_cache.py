"""Cache hits for the most popular items after pre-generation, and generation latency.

Runs against the demo database. Pre-generation (`popular_reason_specs` + `reasons_generate`, the
body of the periodic task) goes to an OpenAI-compatible backend: by default a stand-in endpoint
this script starts on 127.0.0.1 that answers at once with a fixed-form sentence (the figure is
about the cache keys, not the model; pass --url for a real vLLM/Ollama endpoint). Then the home
feeds of sampled customers are computed and, for every served item among the top N popular,
the reason's cache key is looked up: a hit means the API would serve the generated reason.

    .venv/bin/python bench/reasons_cache.py [--top 1000] [--seeds-per-item 1000]
        [--semantic-seeds-per-item 100] [--customers 500]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import percentile, print_table, write_results  # noqa: E402

STAND_IN_MODEL = "stand-in-echo"


class _StandIn(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        prompt = body["messages"][-1]["content"]
        product = next((line[9:] for line in prompt.splitlines() if line.startswith("Product: ")), "this")
        payload = json.dumps({"choices": [{"message": {"content": f"A good pick: {product.lower()}."}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--top", type=int, default=1000)
    parser.add_argument("--seeds-per-item", type=int, default=1000)
    parser.add_argument("--semantic-seeds-per-item", type=int, default=100)
    parser.add_argument("--customers", type=int, default=500)
    parser.add_argument("--url", default="", help="A real OpenAI-compatible endpoint instead of the stand-in.")
    parser.add_argument("--model", default="")
    args = parser.parse_args()
    server = None
    if not args.url:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _StandIn)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        args.url, args.model = f"http://127.0.0.1:{server.server_address[1]}/v1", STAND_IN_MODEL
    os.environ.update(
        {"REASON_BACKEND": "openai", "REASON_OPENAI_URL": args.url, "REASON_OPENAI_MODEL": args.model or "default"}
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "recsite.settings")
    import django

    django.setup()
    from django.db import connection

    from placements.public import Placement, Strategy
    from recommendations.contracts import RecRequest
    from recommendations.pipeline import recommend
    from recommendations.reasons import cache
    from recommendations.reasons.generation import popular_reason_specs, reasons_generate
    from recommendations.reasons.models import Generation
    from recommendations.reasons.pool import template_choose
    from recommendations.reasons.stage import item_bases, reason_facts, reason_keys

    began = time.perf_counter()
    specs = popular_reason_specs(
        top_n=args.top, seeds_per_item=args.seeds_per_item, semantic_seeds_per_item=args.semantic_seeds_per_item
    )
    generated = 0
    for start in range(0, len(specs), 64):
        generated += reasons_generate(specs=specs[start : start + 64]).generated
    pregen_s = time.perf_counter() - began

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT product_id FROM catalog_itempopularity ORDER BY score DESC, product_id LIMIT %s", [args.top]
        )
        top = {row[0] for row in cursor.fetchall()}
        cursor.execute(
            "SELECT DISTINCT c.external_id FROM catalog_customer c JOIN catalog_event e ON e.customer_id = c.id"
        )
        customers = sorted(row[0] for row in cursor.fetchall())
    sample = random.Random(0).sample(customers, min(args.customers, len(customers)))
    template, _ = template_choose(placement=Placement.HOME_FEED)
    strategy = Strategy()
    from recommendations.history import customer_history

    lookups = hits = 0
    by_route: dict[str, list[int]] = {}
    for customer in sample:
        feed = recommend(request=RecRequest(customer_id=customer, k=10, reasons=False), strategy=strategy)
        items = [i for i in feed.items if i.product_pk in top]
        if not items:
            continue
        history = customer_history(customer_id=customer)
        bases = item_bases(items=items, strategy=strategy, history_pks=history.product_pks)
        keys = reason_keys(template=template, items=items, bases=bases, facts=reason_facts(items=items, bases=bases))
        found = set(Generation.objects.filter(key__in=keys).values_list("key", flat=True))
        for b, key in zip(bases, keys, strict=True):
            counts = by_route.setdefault(b.route, [0, 0])
            counts[0] += 1
            counts[1] += key in found
        lookups += len(keys)
        hits += sum(key in found for key in keys)
    latencies = sorted(cache.latencies_ms)
    rows = [
        {"basis": route, "lookups": n, "hits": h, "hit_rate": h / n if n else 0.0}
        for route, (n, h) in sorted(by_route.items())
    ]
    rows.append({"basis": "all", "lookups": lookups, "hits": hits, "hit_rate": hits / lookups if lookups else 0.0})
    print_table(rows)
    meta = {
        "top": args.top,
        "seeds_per_item": args.seeds_per_item,
        "semantic_seeds_per_item": args.semantic_seeds_per_item,
        "customers_sampled": len(sample),
        "specs": len(specs),
        "generated": generated,
        "pregeneration_s": pregen_s,
        "generation_latency_ms_p50": percentile(latencies, 50),
        "generation_latency_ms_p99": percentile(latencies, 99),
        "endpoint": "stand-in (local echo)" if server else args.url,
        "note": "machine shared with other engineers while measured",
    }
    print(meta)
    print(write_results("reasons_cache", rows, meta))
    if server:
        server.shutdown()


if __name__ == "__main__":
    main()
