"""Hostile input never produces a 500: every endpoint, every parameter and body field, a list of
values chosen to break parsers, converters and the database (NUL, surrogates, huge numbers,
wrong JSON types, deep nesting)."""

import json
from urllib.parse import quote, urlencode

import pytest

from catalog.models import Event, Product
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db

HOSTILE_TEXT = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",
    "😀" * 50,
    "\u202e\u0301",
    "x" * 10_000,
    "-1",
    "0",
    "1e309",
    "-1e309",
    "NaN",
    "Infinity",
    "99999999999999999999999999999",
    "1.5",
    "true",
    "null",
    "[]",
    "{}",
    "' OR 1=1 --",
    "%",
    "_",
    "\\",
    ">",
    " > > ",
    ",,,",
    "../../etc/passwd",
    "<script>alert(1)</script>",
]
HOSTILE_JSON = [
    *HOSTILE_TEXT,
    None,
    True,
    -1,
    0,
    10**30,
    1e308,
    -1e308,
    [],
    ["a"],
    {},
    {"$gt": ""},
    {"k\x00": "v"},
    [[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]],
]

GET_ENDPOINTS = {
    "/api/v1/products/": ["category", "in_stock", "q", "limit", "offset"],
    "/api/v1/products/p1/similar/": ["k"],
    "/api/v1/recommendations/": ["customer", "k", "exclude", "category", "include_purchased"],
    "/api/v1/search/": ["q", "k", "category"],
}
VALID_QUERY = {"customer": "c1", "q": "mug"}
BODY_ENDPOINTS = {
    "/api/v1/products/": {"id": "new", "title": "New", "category": "Home > Kitchen", "price": "1.00"},
    "/api/v1/events/": {"customer": "c1", "product": "p1", "type": "view", "timestamp": "2025-01-01T00:00:00Z"},
}


def _assert_answered(response, what: str) -> None:
    assert response.status_code < 500, f"{what}: {response.status_code}"
    if response.status_code >= 400:
        assert set(response.json()["error"]) == {"code", "message", "fields"}, what


def _post_json(client, url: str, body):
    # json.dumps escapes a lone surrogate (DRF's test renderer would fail to encode it).
    return client.post(url, json.dumps(body), content_type="application/json")


@pytest.fixture
def catalog(db):
    return ProductFactory(external_id="p1", title="Blue mug")


@pytest.mark.parametrize("url", list(GET_ENDPOINTS))
def test_query_parameters(storefront_client, catalog, url):
    for name in GET_ENDPOINTS[url]:
        for value in HOSTILE_TEXT:
            # Percent-encoded by hand: a lone surrogate cannot be encoded as UTF-8 by urlencode.
            encoded = quote(value.encode("utf-8", "surrogatepass"), safe="")
            base = urlencode({k: v for k, v in VALID_QUERY.items() if k in GET_ENDPOINTS[url] and k != name})
            response = storefront_client.get(f"{url}?{base}&{name}={encoded}")
            _assert_answered(response, f"{url} {name}={value[:20]!r}")


@pytest.mark.parametrize("url", list(GET_ENDPOINTS))
def test_query_strings_that_are_malformed_or_huge(storefront_client, catalog, url):
    required = urlencode({k: v for k, v in VALID_QUERY.items() if k in GET_ENDPOINTS[url]})
    for query in [
        "%",
        "%zz=1",
        "&&&=&=",
        "k=1&k=2&k=abc",
        "exclude=" + ",".join(str(i) for i in range(600)),
        "&".join(f"exclude={i}" for i in range(600)),
        "&".join(f"f{i}=1" for i in range(1500)),
    ]:
        response = storefront_client.get(f"{url}?{required}&{query}")
        _assert_answered(response, f"{url} {query[:30]}")


@pytest.mark.parametrize("suffix", ["/", "/similar/"])
def test_product_ids_in_the_path(storefront_client, catalog, suffix):
    for value in HOSTILE_TEXT:
        if not value.strip() or "/" in value:
            continue  # no product route matches; Django's own 404
        encoded = quote(value.encode("utf-8", "surrogatepass"), safe="")
        response = storefront_client.get(f"/api/v1/products/{encoded}{suffix}")
        _assert_answered(response, f"{suffix} id={value[:20]!r}")
        assert response.status_code in {400, 404}


@pytest.mark.parametrize("url", list(BODY_ENDPOINTS))
def test_body_fields(storefront_client, catalog, url):
    valid = BODY_ENDPOINTS[url]
    for name in [*valid, "value", "event_id", "recommendation_id", "attributes", "in_stock", "image_url"]:
        rows = [{**valid, name: value} for value in HOSTILE_JSON]
        listed = _post_json(storefront_client, url, rows)
        _assert_answered(listed, f"{url} list of {name}")
        for value in HOSTILE_JSON:
            single = _post_json(storefront_client, url, {**valid, name: value})
            _assert_answered(single, f"{url} {name}={str(value)[:20]!r}")


@pytest.mark.parametrize("url", list(BODY_ENDPOINTS))
def test_bodies_that_are_not_rows(storefront_client, catalog, url):
    for body in [
        b"",
        b"\x00",
        b"\xff\xfe",
        b"{",
        b'{"a": NaN}',
        b'{"a": Infinity}',
        b"[" * 50_000 + b"]" * 50_000,
        b'"\\ud800"',
        b"1e999",
        json.dumps([[]] * 10).encode(),
        json.dumps([None] * 10).encode(),
    ]:
        response = storefront_client.generic("POST", url, body, content_type="application/json")
        _assert_answered(response, f"{url} body {body[:20]!r}")
    assert list(Product.objects.values_list("external_id", flat=True)) == ["p1"]
    assert not Event.objects.exists()
