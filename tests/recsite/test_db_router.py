"""Read replicas against a real streaming standby of the test database's server (tests.replica):
serving reads go to the replica, writes and what follows them to the primary, and serving falls
back to the primary, with a 200, when the replica is down or lags beyond the bound."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from prometheus_client import REGISTRY

from catalog.models import ItemPopularity
from recommendations.recall import popularity
from recsite.db_router import read_connection, reads_scope, replica_health_forget, replica_reads_allow
from tests.factories import ProductFactory
from tests.replica import BinariesMissing, StreamingReplica

REPLICA = "replica_0"
# The standby listens on a Unix socket in its own directory only: the port names its socket file.
REPLICA_PORT = 5432

# The standby sees committed rows only, so every test commits; its alias mirrors the primary's
# test database (nothing is flushed or migrated on it).
pytestmark = pytest.mark.django_db(transaction=True, databases=["default", REPLICA])


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture(scope="session")
def streaming_replica(django_db_setup, django_db_blocker) -> Iterator[StreamingReplica]:
    """One standby for the session, made from the primary once the test database exists."""
    with django_db_blocker.unblock():
        try:
            standby = StreamingReplica(primary=connections["default"].settings_dict, port=REPLICA_PORT)
        except BinariesMissing as exc:
            pytest.skip(str(exc))
        try:
            standby.start()
            yield standby
        finally:
            standby.remove()


@pytest.fixture(scope="module", autouse=True)
def replica_alias(streaming_replica) -> Iterator[None]:
    """`replica_0` on the standby, as DATABASE_REPLICA_URLS would add it; known before the tests'
    database access is checked (they name it)."""
    test_database = connections["default"].settings_dict["NAME"]
    connections.settings[REPLICA] = streaming_replica.settings_dict(name=test_database)
    try:
        yield
    finally:
        connections[REPLICA].close()
        del connections[REPLICA]
        del connections.settings[REPLICA]


@pytest.fixture
def replica(streaming_replica, settings) -> Iterator[StreamingReplica]:
    """Serving reads routed to `replica_0`, its lag measured on every request, every breaker closed."""
    settings.DATABASE_REPLICAS = (REPLICA,)
    settings.DATABASE_REPLICA_CHECK_S = 0
    settings.DATABASE_REPLICA_MAX_LAG_S = 30
    replica_health_forget()
    popularity._cache.clear()
    try:
        yield streaming_replica
    finally:
        replica_health_forget()
        popularity._cache.clear()


def _catalog(replica: StreamingReplica, client) -> None:
    """Products with popularity, on the primary and replayed by the standby; the client's key
    marked used, so the requests that follow write nothing."""
    for external_id, title in (("p1", "red enamel mug"), ("p2", "blue wool scarf")):
        product = ProductFactory(external_id=external_id, title=title)
        ItemPopularity.objects.create(product=product, score=1.0, computed_at=timezone.now())
    replica.catch_up()
    assert client.get("/api/v1/products/p1/").status_code == 200
    replica.catch_up()


def _selects(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")]


def _inserts_into(table: str, sql: str) -> bool:
    return re.search(rf'INSERT INTO "?{table}"? ', sql) is not None


def test_serving_reads_come_from_the_streaming_replica(replica, storefront_client):
    # given a catalog the standby has replayed
    _catalog(replica, storefront_client)
    reads_before = sample("recsite_db_reads_total", alias=REPLICA)

    # when the storefront asks for a product, the home feed, similar items, a search and items
    # bought together
    with (
        CaptureQueriesContext(connections["default"]) as primary,
        CaptureQueriesContext(connections[REPLICA]) as standby,
    ):
        product = storefront_client.get("/api/v1/products/p1/")
        feed = storefront_client.get("/api/v1/recommendations/", {"customer": "c1", "k": 5})
        similar = storefront_client.get("/api/v1/products/p1/similar/", {"k": 5})
        search = storefront_client.get("/api/v1/search/", {"q": "enamel mug", "k": 5})
        together = storefront_client.get("/api/v1/bought-together/", {"products": "p1", "k": 5})

    # then all answered, every query reading the catalog ran on the standby, none on the primary
    assert [r.status_code for r in (product, feed, similar, search, together)] == [200] * 5
    assert product.json()["title"] == "red enamel mug"
    assert {item["id"] for item in feed.json()["items"]} == {"p1", "p2"}
    assert search.json()["items"][0]["id"] == "p1"
    assert any("catalog_product" in sql for sql in _selects(standby))
    assert any("catalog_itempopularity" in sql for sql in _selects(standby))
    # (but the catalog's generation, which says whether searches kept by the process are current:
    # catalog.generation reads it on the primary, at most every CATALOG_CHECK_SECONDS)
    assert [sql for sql in _selects(primary) if "catalog_generation" not in sql] == []
    # (the primary got the served lists, written after each response)
    assert any("recommendations_servedlist" in q["sql"] for q in primary.captured_queries)
    assert sample("recsite_db_reads_total", alias=REPLICA) == reads_before + 5
    # and the connection a serving read uses is a standby's
    with reads_scope():
        replica_reads_allow()
        with read_connection().cursor() as cursor:
            cursor.execute("SELECT pg_is_in_recovery()")
            assert cursor.fetchone() == (True,)


def test_a_request_that_wrote_reads_its_writes_from_the_primary(replica, storefront_client):
    # given a product replayed by the standby, and a new API key: its first use writes its
    # last-used time (an UPDATE on the primary) before the request reads the product
    ProductFactory(external_id="p1", title="red enamel mug")
    replica.catch_up()

    with (
        CaptureQueriesContext(connections["default"]) as primary,
        CaptureQueriesContext(connections[REPLICA]) as standby,
    ):
        response = storefront_client.get("/api/v1/products/p1/")

    # then the key was looked up on the standby, written on the primary, and the product read
    # after that write came from the primary
    assert response.status_code == 200
    assert any("accounts_apikey" in sql for sql in _selects(standby))
    assert any(q["sql"].startswith("UPDATE") and "accounts_apikey" in q["sql"] for q in primary.captured_queries)
    assert any("catalog_product" in sql for sql in _selects(primary))
    assert not any("catalog_product" in sql for sql in _selects(standby))


def test_writes_go_to_the_primary_and_reach_the_replica_by_streaming(replica, storefront_client):
    # when the storefront writes a product and an event
    with (
        CaptureQueriesContext(connections["default"]) as primary,
        CaptureQueriesContext(connections[REPLICA]) as standby,
    ):
        upsert = storefront_client.post("/api/v1/products/", [{"id": "p9", "title": "green teapot"}], format="json")
        event = storefront_client.post(
            "/api/v1/events/",
            {"customer": "c1", "product": "p9", "type": "click", "timestamp": dt.datetime.now(dt.UTC).isoformat()},
            format="json",
        )

    # then both were written on the primary, and the standby was not even asked
    assert upsert.status_code == 201, upsert.content
    assert event.status_code == 201, event.content
    assert any(_inserts_into("catalog_product", q["sql"]) for q in primary.captured_queries)
    assert any(_inserts_into("catalog_event", q["sql"]) for q in primary.captured_queries)
    assert standby.captured_queries == []
    # and the standby has them once it has replayed the primary's WAL
    replica.catch_up()
    with connections[REPLICA].cursor() as cursor:
        cursor.execute(
            "SELECT p.title, count(e.id) FROM catalog_product p LEFT JOIN catalog_event e ON e.product_id = p.id"
            " WHERE p.external_id = 'p9' GROUP BY p.title"
        )
        assert cursor.fetchone() == ("green teapot", 1)


def test_with_the_replica_down_serving_falls_back_to_the_primary(replica, storefront_client):
    # given a catalog, and the standby's server stopped
    _catalog(replica, storefront_client)
    replica.stop()
    try:
        unreachable = sample("recsite_fallbacks_total", stage="replica", reason="unreachable")
        resting = sample("recsite_db_replica_skips_total", replica=REPLICA, reason="resting")
        primary_reads = sample("recsite_db_reads_total", alias="default")

        # when the storefront asks for a product and the home feed
        with CaptureQueriesContext(connections["default"]) as primary:
            product = storefront_client.get("/api/v1/products/p1/")
            feed = storefront_client.get("/api/v1/recommendations/", {"customer": "c1", "k": 5})

        # then both answered from the primary, no 5xx
        assert product.status_code == feed.status_code == 200
        assert {item["id"] for item in feed.json()["items"]} == {"p1", "p2"}
        assert any("catalog_product" in sql for sql in _selects(primary))
        # the first request found the replica unreachable; the second did not try it (resting)
        assert sample("recsite_fallbacks_total", stage="replica", reason="unreachable") == unreachable + 1
        assert sample("recsite_db_replica_skips_total", replica=REPLICA, reason="resting") == resting + 1
        assert sample("recsite_db_reads_total", alias="default") == primary_reads + 2
    finally:
        replica.resume()

    # and once its rest is over, the replica serves again
    replica_health_forget()
    with CaptureQueriesContext(connections[REPLICA]) as standby:
        assert storefront_client.get("/api/v1/products/p1/").status_code == 200
    assert any("catalog_product" in sql for sql in _selects(standby))


def test_a_replica_lagging_beyond_the_bound_is_skipped(replica, settings, storefront_client):
    # given a catalog, and the standby's replay paused before a new product
    _catalog(replica, storefront_client)
    replica.replay_pause()
    try:
        ProductFactory(external_id="late", title="written while replay is paused")

        # when its lag is within the bound, the standby serves, and does not know the product yet
        stale = storefront_client.get("/api/v1/products/late/")
        assert stale.status_code == 404

        # when the lag exceeds the bound
        settings.DATABASE_REPLICA_MAX_LAG_S = 0.2
        replica.wait_lag_over(seconds=0.2)
        lagging = sample("recsite_db_replica_skips_total", replica=REPLICA, reason="lagging")
        with CaptureQueriesContext(connections["default"]) as primary:
            fresh = storefront_client.get("/api/v1/products/late/")

        # then the primary answered, and the replica was skipped for its lag
        assert fresh.status_code == 200
        assert fresh.json()["title"] == "written while replay is paused"
        assert any("catalog_product" in sql for sql in _selects(primary))
        assert sample("recsite_db_replica_skips_total", replica=REPLICA, reason="lagging") == lagging + 1
        assert sample("recsite_db_replica_lag_seconds", replica=REPLICA) > 0.2
    finally:
        replica.replay_resume()
