"""Redis stopped: the storefront is still served and its writes are kept; the work that needed the
queue is caught up by the periodic task once Redis is back."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from django.test import override_settings
from django.utils import timezone

from catalog.models import Event, ItemPopularity, Product, ProductEmbedding
from recommendations.embeddings.service import embed_products
from recommendations.recall import popularity
from tests.factories import ProductFactory
from tests.processes import project_app_broker

pytestmark = pytest.mark.django_db

# Nothing listens here: the same as a Redis that has stopped.
DEAD_REDIS = "redis://127.0.0.1:1/0"


@pytest.fixture
def redis_stopped():
    dead_cache = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": DEAD_REDIS,
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    # override_settings rebuilds the cache handler, so the throttle's cache is the dead one
    with override_settings(CACHES=dead_cache), project_app_broker(DEAD_REDIS):
        yield


def test_with_redis_stopped_feeds_are_served_and_writes_kept_then_caught_up(storefront_client, redis_stopped, caplog):
    # given a catalog with popularity
    popularity._cache.clear()
    ProductFactory(external_id="p1", title="red enamel mug")
    ItemPopularity.objects.create(product=Product.objects.get(external_id="p1"), score=1.0, computed_at=timezone.now())

    # when the storefront reads and writes while Redis is down
    caplog.set_level(logging.WARNING)
    feed = storefront_client.get("/api/v1/recommendations/", {"customer": "c1", "k": 5})
    event = storefront_client.post(
        "/api/v1/events/",
        {"customer": "c1", "product": "p1", "type": "click", "timestamp": dt.datetime.now(dt.UTC).isoformat()},
        format="json",
    )
    upsert = storefront_client.post("/api/v1/products/", [{"id": "p2", "title": "blue wool scarf"}], format="json")

    # then everything was answered and stored (the rate limit fails open, the embed request is skipped)
    assert feed.status_code == 200
    assert [item["id"] for item in feed.json()["items"]] == ["p1"]
    assert event.status_code == 201
    assert Event.objects.filter(customer__external_id="c1").count() == 1
    assert upsert.status_code == 201
    assert not ProductEmbedding.objects.filter(product__external_id="p2").exists()
    assert "rate-limit cache unavailable" in caplog.text
    assert "embedding not requested" in caplog.text

    # and when Redis is back, the periodic embed task (what beat runs) embeds what was left dirty
    report = embed_products()
    assert report.embedded == 2
    assert ProductEmbedding.objects.filter(product__external_id="p2").exists()
    popularity._cache.clear()
