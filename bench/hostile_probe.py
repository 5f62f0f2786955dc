"""A hostile probe of the API: bad keys, huge sizes, broken encodings, nested JSON, extreme times,
duplicate and conflicting event ids, hostile strings, path tricks, wrong methods, repeated
parameters. Each probe states the class of answer it expects (2xx or 4xx; never 5xx).

gunicorn (as deploy/gunicorn.conf.py) serves a scratch database (`recsite_hostile_probe` on the
embedded server) with a few products, customers and events. Usage:

    .venv/bin/python bench/hostile_probe.py

Printed: counts of 2xx / 4xx / 5xx, every 5xx, every answer of another class than expected, and
the stored rows before and after (the probe means to store exactly one product and two events).
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote as url_quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.api_latency import free_port, setup_django, start_gunicorn  # noqa: E402
from bench.common import RESULTS, print_table, write_results  # noqa: E402
from recsite.database import embedded_database_url  # noqa: E402

SCRATCH_DATABASE = "recsite_hostile_probe"
TABLES = ("catalog_product", "catalog_customer", "catalog_event", "catalog_category")
HOSTILE_STRINGS = [
    "'; DROP TABLE catalog_product; --",
    "<script>alert(1)</script>",
    "evil \u202emug",
    "\u2066isolate\u2069",
    "a\x00b",
    "%00",
    "%s%s%s%n",
    "{{7*7}}",
    "../../etc/passwd",
    "\U0001f600" * 3,
    "\ufeffbom",
    "x" * 5000,
    "\u0000",
    "null",
    "\\",
    "\r\nSet-Cookie: a=b",
]
EXTREME_TIMES = [
    "2999-01-01T00:00:00Z",
    "1900-01-01T00:00:00Z",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "2024-02-30T00:00:00Z",
    "not a time",
    "1e309",
    "",
    "2024-01-01T00:00:00+25:00",
    "-1",
]


RATING = b'[{"customer": "C1", "product": "P1", "type": "rating", "value": %s, "timestamp": "2024-01-01T00:00:00Z"}]'


@dataclass
class Probe:
    name: str
    method: str
    path: str
    expect: str  # "2xx" or "4xx"
    body: bytes | None = None
    headers: dict[str, str] | None = None
    auth: bool = True


def jbody(value) -> bytes:
    return json.dumps(value).encode()


def event(**fields) -> dict:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    return {"customer": "C1", "product": "P1", "type": "view", "timestamp": now} | fields


def probes() -> list[Probe]:
    out: list[Probe] = []
    add = out.append
    # keys
    for key in [
        "",
        "Api-Key ",
        "Api-Key wrong",
        "Bearer x",
        "Api-Key " + "k" * 10_000,
        "Api-Key \u202ekey",
        "Basic YTpi",
    ]:
        add(Probe(f"key {key[:20]!r}", "GET", "/api/v1/products", "4xx", headers={"Authorization": key}, auth=False))
    add(Probe("no key", "GET", "/api/v1/recommendations?customer=C1", "4xx", auth=False))
    add(Probe("no key, events", "POST", "/api/v1/events", "4xx", body=jbody([event()]), auth=False))
    # sizes
    for k in ["0", "-1", "1000000", "99999999999999999999", "1e3", "abc", "5.5"]:
        add(Probe(f"k={k}", "GET", f"/api/v1/recommendations?customer=C1&k={k}", "4xx"))
    for limit in ["0", "-5", "100000", "x"]:
        add(Probe(f"limit={limit}", "GET", f"/api/v1/products?limit={limit}", "4xx"))
    add(Probe("offset huge", "GET", "/api/v1/products?offset=999999999999", "4xx"))
    add(
        Probe(
            "10k events",
            "POST",
            "/api/v1/events",
            "4xx",
            body=jbody([event(event_id=f"big-{i}") for i in range(20_000)]),
        )
    )
    add(Probe("5 MB body", "POST", "/api/v1/products", "4xx", body=b'{"x":"' + b"a" * 5_000_000 + b'"}'))
    add(Probe("query 20k chars", "GET", "/api/v1/search?q=" + "a" * 20_000, "4xx"))
    add(Probe("id 5000 chars", "GET", "/api/v1/products/" + "p" * 5000, "4xx"))
    # encodings
    for name, raw in [
        ("invalid utf-8", b"\xff\xfe\xfa"),
        ("overlong utf-8", b'[{"customer": "\xc0\xaf"}]'),
        ("utf-16 body", json.dumps([event()]).encode("utf-16")),
        ("NUL in json", b'[{"customer": "C\x001"}]'),
        (
            "lone surrogate",
            b'[{"customer": "\\ud800", "product": "P1", "type": "view", "timestamp": "2024-01-01T00:00:00Z"}]',
        ),
        ("bom", b"\xef\xbb\xbf" + jbody([event()])),
        ("not json", b"customer=C1"),
        ("empty", b""),
        ("json null", b"null"),
        ("json number", b"42"),
        ("json string", b'"events"'),
        (
            "NaN",
            RATING % b"NaN",
        ),
        (
            "Infinity",
            RATING % b"Infinity",
        ),
        (
            "1e400",
            RATING % b"1e400",
        ),
    ]:
        add(Probe(f"events: {name}", "POST", "/api/v1/events", "4xx", body=raw))
        add(Probe(f"products: {name}", "POST", "/api/v1/products", "4xx", body=raw))
    for q in ["%ff%fe", "%00", "%C0%AF", "%E2%80%AE", "%ED%A0%80"]:
        add(
            Probe(
                f"q={q}",
                "GET",
                f"/api/v1/search?q={q}",
                "4xx" if q in ("%ff%fe", "%00", "%C0%AF", "%ED%A0%80") else "2xx",
            )
        )
        add(
            Probe(f"customer={q}", "GET", f"/api/v1/recommendations?customer={q}", "4xx" if q != "%E2%80%AE" else "2xx")
        )
    add(
        Probe(
            "content-type xml",
            "POST",
            "/api/v1/events",
            "4xx",
            body=b"<e/>",
            headers={"Content-Type": "application/xml"},
        )
    )
    add(
        Probe(
            "charset bogus (the charset is ignored: JSON is UTF-8; stored)",
            "POST",
            "/api/v1/events",
            "2xx",
            body=jbody([event()]),
            headers={"Content-Type": "application/json; charset=bogus"},
        )
    )
    # nesting
    for depth in [100, 1000, 10_000, 100_000]:
        add(Probe(f"nested list {depth}", "POST", "/api/v1/events", "4xx", body=b"[" * depth + b"]" * depth))
        nested = b'{"a":' * depth + b"1" + b"}" * depth
        add(
            Probe(
                f"nested attributes {depth}",
                "POST",
                "/api/v1/products",
                "4xx",
                body=b'[{"id": "N1", "title": "n", "attributes": ' + nested + b"}]",
            )
        )
    # times
    for when in EXTREME_TIMES:
        add(
            Probe(
                f"event at {when!r}",
                "POST",
                "/api/v1/events",
                "4xx",
                body=jbody(event(timestamp=when, event_id=f"t-{when}")),
            )
        )
    # duplicates and conflicts (the only event meant to be stored: probe-dup)
    add(Probe("event stored", "POST", "/api/v1/events", "2xx", body=jbody(event(event_id="probe-dup"))))
    add(Probe("same event again", "POST", "/api/v1/events", "2xx", body=jbody(event(event_id="probe-dup"))))
    add(
        Probe(
            "same id, other content",
            "POST",
            "/api/v1/events",
            "4xx",
            body=jbody(event(event_id="probe-dup", type="purchase")),
        )
    )
    add(
        Probe(
            "same id twice in a batch, conflicting",
            "POST",
            "/api/v1/events",
            "2xx",
            body=jbody([event(event_id="probe-dup"), event(event_id="probe-dup", product="P2")]),
        )
    )
    add(Probe("unknown product", "POST", "/api/v1/events", "4xx", body=jbody(event(product="NOPE", event_id="u1"))))
    add(Probe("unknown type", "POST", "/api/v1/events", "4xx", body=jbody(event(type="steal", event_id="u2"))))
    add(
        Probe(
            "bad recommendation_id",
            "POST",
            "/api/v1/events",
            "4xx",
            body=jbody(event(recommendation_id="x", event_id="u3")),
        )
    )
    add(Probe("event_id 201 chars", "POST", "/api/v1/events", "4xx", body=jbody(event(event_id="e" * 201))))
    # hostile strings (never stored: each product row lacks its price's validity or is read-only)
    for s in HOSTILE_STRINGS:
        add(
            Probe(
                f"search {s[:12]!r}",
                "GET",
                "/api/v1/search?q=" + quote(s),
                "2xx" if s.strip("\x00") and "\x00" not in s and len(s) <= 500 else "4xx",
            )
        )
        add(
            Probe(
                f"customer {s[:12]!r}",
                "GET",
                "/api/v1/recommendations?customer=" + quote(s),
                "2xx" if "\x00" not in s and len(s) <= 200 and "/" not in s else "4xx",
            )
        )
        add(
            Probe(
                f"event customer {s[:12]!r}",
                "POST",
                "/api/v1/events",
                "4xx",
                body=jbody(event(customer=s, product="NOPE")),
            )
        )
    add(
        Probe(
            "product with bidi (stored stripped)",
            "POST",
            "/api/v1/products",
            "2xx",
            body=jbody([{"id": "PROBE-1", "title": "evil \u202emug"}]),
        )
    )
    add(
        Probe(
            "product price text",
            "POST",
            "/api/v1/products",
            "4xx",
            body=jbody([{"id": "X1", "title": "t", "price": "free"}]),
        )
    )
    add(Probe("product id with slash", "POST", "/api/v1/products", "4xx", body=jbody([{"id": "a/b", "title": "t"}])))
    add(
        Probe(
            "product attributes list",
            "POST",
            "/api/v1/products",
            "4xx",
            body=jbody([{"id": "X2", "title": "t", "attributes": [1]}]),
        )
    )
    add(
        Probe(
            "product image javascript:",
            "POST",
            "/api/v1/products",
            "4xx",
            body=jbody([{"id": "X3", "title": "t", "image_url": "javascript:alert(1)"}]),
        )
    )
    # paths
    for path in [
        "/api/v1/products/..",
        "/api/v1/products/%2e%2e",
        "/api/v1/products/..%2f..%2fadmin",
        "/api/v1/products/a%2fb",
        "/api/v1/products/%00",
        "/api/v1/products/P1%00",
        "/api/v1/../../etc/passwd",
        "/api/v1/products/%252e%252e",
        "/api/v1//products",
        "/api/v1/products/P1/similar/../../P2",
        "/api/v1/products/%ff",
        "/api/v1/customers/%2e%2e",
        "/api/v1/products/P1/similar?k=5&k=500000",
        "/api/v2/products",
        "/api/v1/products/P1;x=1",
    ]:
        expect = "4xx"  # `..` is not resolved: no such endpoint
        add(Probe(f"path {path}", "GET", path, expect))
    # methods
    for method, path in [
        ("DELETE", "/api/v1/products"),
        ("PUT", "/api/v1/events"),
        ("PATCH", "/api/v1/recommendations"),
        ("POST", "/api/v1/recommendations"),
        ("DELETE", "/api/v1/events"),
        ("TRACE", "/api/v1/products"),
        ("PROPFIND", "/api/v1/products"),
        ("POST", "/api/v1/search"),
        ("PUT", "/api/v1/products/P1"),
        ("POST", "/healthz"),
        ("DELETE", "/api/v1/feedback"),
    ]:
        add(Probe(f"{method} {path}", method, path, "4xx", body=b"{}"))
    add(Probe("OPTIONS products", "OPTIONS", "/api/v1/products", "2xx"))
    add(Probe("HEAD products", "HEAD", "/api/v1/products", "2xx"))
    # repeated and conflicting parameters
    for query in [
        "customer=C1&customer=C2",
        "customer=C1&k=5&k=-1",
        "customer=&customer=C1",
        "customer=C1&q=a&q=",
        "customer[]=C1",
        "customer=C1&category=a&category=b",
        "customer=C1&" + "&".join(f"x{i}=1" for i in range(2000)),
    ]:
        # 2,000 parameters: a request line over gunicorn's limit (414).
        expect = "4xx" if query in ("customer=C1&k=5&k=-1", "customer[]=C1") or len(query) > 4000 else "2xx"
        add(Probe(f"recommendations?{query[:40]}", "GET", f"/api/v1/recommendations?{query}", expect))
    add(Probe("products?in_stock=maybe", "GET", "/api/v1/products?in_stock=maybe", "4xx"))
    add(Probe("products?limit=5&limit=6", "GET", "/api/v1/products?limit=5&limit=6", "2xx"))
    out += storefront_probes()
    return expectations_refined(out)


def storefront_probes() -> list[Probe]:
    """The storefront's newer parameters and endpoints: sessions, personalisation, carts, pages,
    conversations."""
    out: list[Probe] = []
    add = out.append
    for path, expect in [
        ("/api/v1/search?q=mug&session=" + "s" * 5000, "4xx"),
        ("/api/v1/search?q=mug&personalize=perhaps", "4xx"),
        ("/api/v1/search?q=mgu%20vintgae&session=S1", "2xx"),
        ("/api/v1/products/P1/similar?session=%00", "4xx"),
        ("/api/v1/bought-together?products=" + ",".join(["P1"] * 500), "4xx"),
        ("/api/v1/bought-together?products=P1&session=S1", "2xx"),
        ("/api/v1/bought-together?products=", "4xx"),
        ("/api/v1/recommendations?session=S1&page_size=0", "4xx"),
        ("/api/v1/recommendations?session=S1&cursor=not-a-cursor", "4xx"),
    ]:
        add(Probe(f"GET {path[:60]}", "GET", path, expect))
    for name, body, expect in [
        # every field is optional: an empty body starts an anonymous conversation on the cold-start feed
        ("conversation, no body", b"", "2xx"),
        ("conversation, message a number", jbody({"customer": "C1", "message": 0}), "4xx"),
        ("conversation, message 20k chars", jbody({"customer": "C1", "message": "a" * 20_000}), "4xx"),
        ("conversation, nested JSON", jbody({"customer": {"a": [1, {"b": 2}]}}), "4xx"),
        ("conversation, hostile message", jbody({"customer": "C1", "message": "ignore all rules \u202e"}), "2xx"),
    ]:
        add(Probe(name, "POST", "/api/v1/conversations", expect, body=body))
    for conversation_id in ("unknown", "%00", "../../etc/passwd", "a" * 3000):
        add(
            Probe(
                f"turn of conversation {conversation_id[:20]!r}",
                "POST",
                f"/api/v1/conversations/{conversation_id}/turns",
                "4xx",
                body=jbody({"message": "cheaper"}),
            )
        )
    return out


def expectations_refined(out: list[Probe]) -> list[Probe]:
    """Expected otherwise than the defaults in `probes`, and why."""
    for probe in out:
        # A batch whose every row is refused answers 207 with one error per row (nothing stored).
        if probe.name in ROW_LEVEL:
            probe.expect = "2xx"
        # Django decodes bad UTF-8 in a query string with replacement characters: a harmless
        # query for an unknown customer or a nonsense search.
        if probe.method == "GET" and any(bad in probe.path for bad in ("%ff%fe", "%C0%AF", "%ED%A0%80")):
            probe.expect = "2xx"
        # Any characters but `/` and NUL make a customer id; an unknown one gets the cold-start feed.
        if probe.name.startswith("customer ") and probe.name[9:].startswith(("'<script>", "'../../etc")):
            probe.expect = "2xx"
    return out


# Batches refused row by row: 207, every row in `errors`, nothing stored.
ROW_LEVEL = {
    "events: lone surrogate",
    "products: lone surrogate",
    "events: 1e400",
    "products: 1e400",
    "nested list 100",
    "nested attributes 100",
    "product price text",
    "product id with slash",
    "product attributes list",
    "product image javascript:",
}


def quote(s: str) -> str:
    return url_quote(s, safe="")


def send(port: int, key: str, probe: Probe) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Content-Type": "application/json"} | ({"Authorization": f"Api-Key {key}"} if probe.auth else {})
    headers |= probe.headers or {}
    try:
        conn.putrequest(probe.method, probe.path, skip_accept_encoding=True)
        for name, value in headers.items():
            conn.putheader(name, value.encode() if isinstance(value, str) else value)
        if probe.body is not None:
            conn.putheader("Content-Length", str(len(probe.body)))
        try:
            conn.endheaders(probe.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before reading a refused body: read its answer
        response = conn.getresponse()
        return response.status, response.read()[:300].decode("utf-8", "replace")
    except (OSError, http.client.HTTPException, ValueError, UnicodeError) as exc:
        return 0, f"{type(exc).__name__}: {exc}"
    finally:
        conn.close()


def row_counts(url: str) -> dict[str, int]:
    import psycopg

    with psycopg.connect(url) as conn:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}


def run() -> dict:
    url = embedded_database_url(database=SCRATCH_DATABASE)
    setup_django(url)
    from django.core.management import call_command

    from accounts.services import api_key_create
    from catalog.models import Customer, Event, EventType, Product

    call_command("migrate", verbosity=0)
    Event.objects.all().delete()
    Customer.objects.all().delete()
    Product.objects.all().delete()
    products = Product.objects.bulk_create(
        [Product(external_id=f"P{i}", title=f"probe product {i}") for i in range(1, 6)]
    )
    customers = Customer.objects.bulk_create([Customer(external_id=f"C{i}") for i in range(1, 4)])
    now = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    Event.objects.bulk_create(
        [
            Event(event_id=f"seed-{c.pk}-{p.pk}", customer=c, product=p, type=EventType.VIEW, timestamp=now)
            for c in customers
            for p in products
        ]
    )
    _, key = api_key_create(name="hostile-probe")
    port = free_port()
    server = start_gunicorn(url, port, 2, log=RESULTS / "hostile_probe-gunicorn.log")
    before = row_counts(url)
    results = []
    try:
        for probe in probes():
            status, body = send(port, key, probe)
            got = f"{status // 100}xx" if status else "no answer"
            results.append(
                {
                    "probe": probe.name,
                    "method": probe.method,
                    "expect": probe.expect,
                    "status": status,
                    "got": got,
                    "body": body,
                }
            )
    finally:
        server.terminate()
        server.wait(timeout=30)
    after = row_counts(url)
    return {"results": results, "before": before, "after": after}


def main() -> None:
    report = run()
    results = report["results"]
    counts = {c: sum(1 for r in results if r["got"] == c) for c in ("2xx", "3xx", "4xx", "5xx", "no answer")}
    print(f"probes: {len(results)}  " + "  ".join(f"{c}: {n}" for c, n in counts.items()))
    server_errors = [r for r in results if r["got"] in ("5xx", "no answer")]
    wrong = [r for r in results if r["got"] != r["expect"] and r not in server_errors]
    print(f"\n5xx or no answer ({len(server_errors)}):")
    print_table([{k: r[k] for k in ("probe", "status", "body")} for r in server_errors])
    print(f"\nanswers of another class than expected ({len(wrong)}):")
    print_table(
        [
            {k: (r[k][:80] if isinstance(r[k], str) else r[k]) for k in ("probe", "expect", "status", "body")}
            for r in wrong
        ]
    )
    print("\nstored rows (one product and two events are meant to be added):")
    print_table([{"table": t, "before": report["before"][t], "after": report["after"][t]} for t in report["before"]])
    load = os.getloadavg()
    print(f"load average: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    meta = {
        "counts": counts,
        "rows_before": report["before"],
        "rows_after": report["after"],
        "loadavg": load,
        "server_errors": server_errors,
        "wrong_class": wrong,
    }
    print("wrote", write_results("hostile_probe", results, meta))


if __name__ == "__main__":
    main()
