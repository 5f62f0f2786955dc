"""Migration 0007 on a database holding events: every row kept, both ways."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("catalog", "0006_product_lexical_index")]
COLUMNS = 'id, event_id, type, value, "timestamp", recommendation_id, received_at, customer_id, product_id, session_id'


def migrate(targets: list[tuple[str, str]]) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


def latest() -> list[tuple[str, str]]:
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


def events() -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {COLUMNS} FROM catalog_event ORDER BY id")
        return cursor.fetchall()


def scalar(sql: str):
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()[0]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_migrating_a_database_with_events_keeps_every_row_and_id_both_ways():
    migrate(BEFORE)
    try:
        # given events of three months in the unpartitioned table (one deleted: ids have a gap)
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO catalog_product (external_id, title, description, brand, price, currency, in_stock,"
                " attributes, image_url, text_hash, created_at, updated_at)"
                " VALUES ('P1', 'Mug', '', '', 1, 'EUR', true, '{}', '', '', now(), now()) RETURNING id"
            )
            product = cursor.fetchone()[0]
            cursor.execute(
                "INSERT INTO catalog_customer (external_id, attributes, created_at) VALUES ('C1', '{}', now())"
                " RETURNING id"
            )
            customer = cursor.fetchone()[0]
            cursor.execute(
                'INSERT INTO catalog_event (event_id, type, value, "timestamp", recommendation_id, received_at,'
                " customer_id, product_id, session_id)"
                " SELECT 'e' || g, 'purchase', g, timestamptz '2023-01-20 23:30+00' + g * interval '10 days',"
                " CASE WHEN g %% 2 = 0 THEN gen_random_uuid() END, now(), %s, %s, CASE WHEN g = 3 THEN 's1' END"
                " FROM generate_series(1, 10) g",
                [customer, product],
            )
            cursor.execute("DELETE FROM catalog_event WHERE event_id = 'e10'")
        before = events()
        assert len(before) == 9
        last_id = scalar("SELECT pg_sequence_last_value(pg_get_serial_sequence('catalog_event', 'id'))")
        assert last_id > before[-1][0]  # e10's, deleted

        # when migrated forward
        migrate(latest())

        # then every row is kept as it was, each month in its partition, each id in the ledger
        assert events() == before
        assert scalar("SELECT count(*) FROM catalog_eventid") == 9
        assert scalar("SELECT count(*) FROM catalog_event_default") == 0
        assert scalar("SELECT count(DISTINCT tableoid) FROM catalog_event") == 4  # Jan-Apr 2023
        assert scalar("SELECT relkind FROM pg_class WHERE relname = 'catalog_event'") == "p"
        # the identity goes on past the deleted row's id; ids stay unique
        with connection.cursor() as cursor:
            cursor.execute(
                'INSERT INTO catalog_event (event_id, type, "timestamp", received_at, product_id)'
                " VALUES ('new', 'view', now(), now(), %s) RETURNING id",
                [product],
            )
            assert cursor.fetchone()[0] == last_id + 1
        with pytest.raises(IntegrityError, match="event_id_unique"), transaction.atomic(), connection.cursor() as c:
            c.execute(
                'INSERT INTO catalog_event (event_id, type, "timestamp", received_at, product_id)'
                " VALUES ('e1', 'view', now(), now(), %s)",
                [product],
            )
        after = events()

        # when migrated back
        migrate(BEFORE)

        # then the rows are back in a plain table with its unique constraint
        assert events() == after
        assert scalar("SELECT relkind FROM pg_class WHERE relname = 'catalog_event'") == "r"
        assert scalar("SELECT count(*) FROM pg_constraint WHERE conname = 'event_id_unique'") == 1
    finally:
        migrate(latest())
