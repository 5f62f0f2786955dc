"""A database that stops answering makes the API fail fast with a 503, and it recovers by itself."""

from __future__ import annotations

import psycopg
import pytest
from django.db import connection

from tests.factories import ProductFactory
from tests.processes import database_url_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_blocked_database_answers_503_fast_then_serves_again(storefront_client):
    # given a catalog, and this connection limited to 300 ms per statement (as web processes are)
    ProductFactory(external_id="p1")
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 300")
    # when another session locks the products table (as a stuck migration or restore would)
    blocker = psycopg.connect(database_url_for(connection.settings_dict))
    try:
        blocker.execute("BEGIN")
        blocker.execute("LOCK TABLE catalog_product IN ACCESS EXCLUSIVE MODE")
        blocked = storefront_client.get("/api/v1/products/p1/")
    finally:
        blocker.rollback()
        blocker.close()

    # then the API said 503 with a JSON error and a Retry-After, instead of hanging or a 500
    assert blocked.status_code == 503
    assert blocked["Retry-After"] == "1"
    assert blocked.json()["error"]["code"] == "unavailable"
    # and once the lock is gone the same process serves again
    assert storefront_client.get("/api/v1/products/p1/").status_code == 200
