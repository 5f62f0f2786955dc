"""/healthz answers without touching anything; /readyz checks database, broker and model."""

from __future__ import annotations

import pytest
from django.test import override_settings

pytestmark = pytest.mark.django_db


def test_healthz_needs_no_credentials(api_client):
    response = api_client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_ready_with_database_broker_and_model(api_client):
    response = api_client.get("/readyz")

    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert {name: check["ok"] for name, check in body["checks"].items()} == {
        "database": True,
        "broker": True,
        "embedding_model": True,
    }


@override_settings(CELERY_BROKER_URL="redis://127.0.0.1:1/0")
def test_readyz_without_a_broker_is_503_naming_the_broker(api_client):
    response = api_client.get("/readyz")

    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "unavailable"
    assert body["checks"]["broker"]["ok"] is False
    assert "ConnectionError" in body["checks"]["broker"]["error"]
    assert body["checks"]["database"]["ok"] is True
