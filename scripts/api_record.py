"""Record the API's answers to a fixed set of requests, to compare two versions of the code.

    RECSITE_VAR_DIR=... python scripts/api_record.py --out before.json   # on the old tree
    RECSITE_VAR_DIR=... python scripts/api_record.py --out after.json    # on the new tree
    python scripts/api_record.py --compare before.json after.json

It runs against the database in the environment (the demo's, loaded by `make demo`), inside one
transaction that is rolled back: the requests, the API key, the experiment it launches and every
served list and exposure they write leave nothing behind. Ids made fresh per request
(`recommendation_id`) are blanked; everything else must match.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
VOLATILE = frozenset({"recommendation_id"})


def _blank(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: "*" if key in VOLATILE else _blank(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_blank(item) for item in value]
    return value


def _requests(customers: list[str], products: list[str], category: str) -> list[tuple[str, str, dict | None]]:
    """(method, path, JSON body) in order: the three placements with every parameter, bad input,
    and the catalog endpoints."""
    feed = "/api/v1/recommendations"
    event = {"customer": customers[0], "type": "view", "timestamp": "2011-12-09T12:00:00Z"}
    plan: list[tuple[str, str, dict | None]] = []
    for customer in customers:
        plan.append(("GET", f"{feed}?customer={customer}&k=10", None))
    plan += [
        ("GET", f"{feed}?customer={customers[0]}&k=5&include_purchased=true", None),
        ("GET", f"{feed}?customer={customers[0]}&k=7&exclude={products[0]},{products[1]}", None),
        ("GET", f"{feed}?customer={customers[1]}&k=10&category={category}", None),
        ("GET", f"{feed}?customer={customers[1]}&k=10&reasons=false", None),
        ("GET", f"{feed}?customer=no-such-customer&k=10", None),
        ("GET", f"{feed}?k=10", None),
        ("GET", f"{feed}?customer=new-shopper&k=10&context={products[0]}", None),
        ("GET", f"{feed}?customer=new-shopper&k=10&q=red+heart+candle+holder", None),
        ("GET", f"{feed}?k=0", None),
        ("GET", f"{feed}?k=abc", None),
        ("GET", f"{feed}?k=100000", None),
    ]
    for product in products:
        plan.append(("GET", f"/api/v1/products/{product}/similar?k=8", None))
    plan += [
        ("GET", f"/api/v1/products/{products[0]}/similar?k=8&customer={customers[0]}", None),
        ("GET", "/api/v1/products/no-such-product/similar", None),
        ("GET", "/api/v1/search?q=vintage+christmas+decoration&k=10", None),
        ("GET", "/api/v1/search?q=tea+cup&k=5&customer=" + customers[0], None),
        ("GET", f"/api/v1/search?q=bag&k=10&category={category}", None),
        ("GET", "/api/v1/search?q=&k=10", None),
        ("GET", "/api/v1/search?k=10", None),
        ("GET", "/api/v1/products?page_size=5", None),
        ("GET", f"/api/v1/products/{products[0]}", None),
        ("GET", "/api/v1/products/no-such-product", None),
        ("GET", "/api/v1/no-such-endpoint", None),
        ("POST", "/api/v1/events", {**event, "product": products[2]}),
        ("POST", "/api/v1/events", {**event, "product": "no-such-product"}),
        ("POST", "/api/v1/events", {"type": "teleport"}),
        ("POST", "/api/v1/feedback", {"recommendation_id": "not-a-uuid", "type": "not_relevant"}),
    ]
    return plan


def record() -> list[dict[str, Any]]:
    from django.db import transaction
    from django.db.models import Count
    from django.test import Client

    from accounts.services import api_key_create
    from catalog.models import Category, Customer, Product

    client = Client()
    with transaction.atomic():
        _, key = api_key_create(name="api-record")
        headers = {"HTTP_AUTHORIZATION": f"Api-Key {key}"}
        by_events = Customer.objects.annotate(n=Count("events")).order_by("-n", "external_id")
        customers = list(by_events.values_list("external_id", flat=True)[:200:40])
        products = list(
            Product.objects.annotate(n=Count("events"))
            .order_by("-n", "external_id")
            .values_list("external_id", flat=True)[:4]
        )
        category = Category.objects.order_by("path").values_list("path", flat=True).first() or "none"
        answers = _ask(client, headers, _requests(customers, products, category))
        answers += _ask(client, headers, _experiment_requests(customers))
        transaction.set_rollback(True)
    return answers


def _ask(client: Any, headers: dict[str, str], plan: list[tuple[str, str, dict | None]]) -> list[dict[str, Any]]:
    answers = []
    for method, path, body in plan:
        if method == "GET":
            response = client.get(path, **headers)
        else:
            response = client.post(path, data=json.dumps(body), content_type="application/json", **headers)
        try:
            payload = response.json()
        except ValueError:
            payload = response.content.decode(errors="replace")[:200]
        answers.append({"request": f"{method} {path}", "status": response.status_code, "body": _blank(payload)})
    return answers


def _experiment_requests(customers: list[str]) -> list[tuple[str, str, dict | None]]:
    """Launch an experiment on the home feed (rolled back with the rest): variants serve."""
    from experiments.models import Experiment, Variant
    from experiments.services import experiment_launch

    experiment = Experiment.objects.create(key="api-record", placement="home_feed", salt="fixed")
    Variant.objects.create(
        experiment=experiment, key="control", is_control=True, weight=1, config={"routes": {"itemcf": 1.0}}
    )
    Variant.objects.create(
        experiment=experiment,
        key="semantic",
        weight=1,
        config={"routes": {"semantic": 1.0, "popularity": 0.1}, "k": 6, "rules": False, "reasons": False},
    )
    experiment_launch(experiment_id=experiment.pk)
    return [("GET", f"/api/v1/recommendations?customer={customer}&k=10", None) for customer in customers]


def compare(before: Path, after: Path) -> int:
    old, new = json.loads(before.read_text()), json.loads(after.read_text())
    differ = [a["request"] for a, b in zip(old, new, strict=False) if a != b]
    if len(old) != len(new):
        print(f"{len(old)} requests before, {len(new)} after")
        return 1
    for request in differ:
        print(f"differs: {request}")
    print(f"{len(old) - len(differ)} of {len(old)} answers identical")
    return 1 if differ else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path)
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"))
    args = parser.parse_args()
    if args.compare:
        return compare(*args.compare)
    if args.out is None:
        parser.error("--out or --compare")
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "recsite.settings")
    import django

    django.setup()
    from django.test.utils import setup_test_environment

    setup_test_environment()  # the test client's host name is allowed
    answers = record()
    args.out.write_text(json.dumps(answers, indent=1, sort_keys=True) + "\n")
    print(f"{len(answers)} answers written to {args.out} ({sum(a['status'] < 400 for a in answers)} ok)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
