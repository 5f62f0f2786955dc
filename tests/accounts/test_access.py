"""Who may call the API: key scopes, revoked keys, staff and non-staff sessions, rate limits."""

import uuid

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import override_settings
from rest_framework.test import APIClient

from accounts.models import ApiKey, Scope
from accounts.services import api_key_revoke
from accounts.throttling import ApiKeyRateThrottle
from tests.factories import make_api_key

pytestmark = pytest.mark.django_db

PRODUCTS = "/api/v1/products/"
EVENTS = "/api/v1/events/"


def _client(raw_key: str, *, header: str = "authorization") -> APIClient:
    client = APIClient()
    if header == "authorization":
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    else:
        client.credentials(HTTP_X_API_KEY=raw_key)
    return client


def test_no_credentials_is_401_with_www_authenticate(api_client):
    response = api_client.get(PRODUCTS)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Api-Key"
    assert response.json() == {
        "error": {
            "code": "not_authenticated",
            "message": "Send an API key: 'Authorization: Api-Key <key>'.",
            "fields": {},
        }
    }


@pytest.mark.parametrize("header", ["authorization", "x-api-key"])
def test_a_valid_key_in_either_header_is_accepted(header):
    client = _client(make_api_key(), header=header)

    assert client.get(PRODUCTS).status_code == 200


def test_an_unknown_key_is_401(api_client):
    make_api_key()

    response = _client("rs_not-a-key").get(PRODUCTS)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Api-Key"
    assert response.json()["error"]["message"] == "Invalid or revoked API key."


def test_a_revoked_key_is_401():
    raw_key = make_api_key()
    api_key_revoke(api_key_id=ApiKey.objects.get().pk)

    response = _client(raw_key).get(PRODUCTS)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


@pytest.mark.parametrize(
    ("scopes", "method", "url", "expected"),
    [
        ([Scope.READ_RECOMMENDATIONS], "get", PRODUCTS, 200),
        ([Scope.WRITE_EVENTS], "get", PRODUCTS, 403),
        ([Scope.READ_RECOMMENDATIONS], "post", PRODUCTS, 403),
        ([Scope.WRITE_CATALOG], "post", PRODUCTS, 201),
        ([Scope.READ_RECOMMENDATIONS, Scope.WRITE_CATALOG], "post", EVENTS, 403),
        ([Scope.WRITE_EVENTS], "post", EVENTS, 207),
        ([Scope.WRITE_CATALOG], "get", PRODUCTS + "p1/", 403),
    ],
)
def test_a_key_needs_the_scope_of_the_endpoint(scopes, method, url, expected):
    client = _client(make_api_key(scopes=scopes))
    body = (
        {"id": "p1", "title": "Mug"}
        if url == PRODUCTS
        else [{"customer": "c", "product": "nope", "type": "view", "timestamp": "2025-01-01T00:00:00Z"}]
    )

    response = getattr(client, method)(url, body if method == "post" else None, format="json")

    assert response.status_code == expected
    if expected == 403:
        assert response.json()["error"]["message"] == "This API key lacks the scope this endpoint needs."


def test_a_non_staff_session_is_403(api_client):
    user = get_user_model().objects.create_user("shopper", password="x" * 12)
    api_client.force_login(user)

    response = api_client.get(PRODUCTS)

    assert response.status_code == 403


@pytest.fixture
def throttle_cache():
    """A cache namespace of this test's own: the Redis database is shared with other test runs,
    so the limit is counted under a unique prefix (its counters expire after two windows)."""
    prefix = f"test-throttle-{uuid.uuid4().hex}"
    caches = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/1",
            "KEY_PREFIX": prefix,
        }
    }
    with override_settings(CACHES=caches):
        yield cache


def test_a_key_over_its_rate_gets_429_with_retry_after(throttle_cache, monkeypatch):
    # given: two requests a minute per key
    monkeypatch.setattr(ApiKeyRateThrottle, "rate", "2/min", raising=False)
    client = _client(make_api_key())
    other_client = _client(make_api_key())

    # when
    statuses = [client.get(PRODUCTS).status_code for _ in range(3)]
    refused = client.get(PRODUCTS)

    # then: the third and later requests are refused; another key has its own budget
    assert statuses == [200, 200, 429]
    assert refused.json()["error"]["code"] == "throttled"
    # the next window's estimate counts the two let through as spread over their minute
    assert 0 < int(refused["Retry-After"]) <= 2 * 60
    assert other_client.get(PRODUCTS).status_code == 200


def test_the_rate_limit_fails_open_without_a_cache(monkeypatch):
    # given: a cache that cannot be reached (nothing listens on port 9)
    monkeypatch.setattr(ApiKeyRateThrottle, "rate", "1/min", raising=False)
    caches = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:9/0"}
    }
    client = _client(make_api_key())

    with override_settings(CACHES=caches):
        statuses = [client.get(PRODUCTS).status_code for _ in range(3)]

    assert statuses == [200, 200, 200]
