"""Events partitioned by month (docs/scale.md, "Events by month").

`catalog_event` becomes a table partitioned by RANGE on the event's `timestamp`: one partition per
UTC month (`catalog_event_pYYYY_MM`) and a DEFAULT partition (`catalog_event_default`) that takes
an event of a month without its partition until `catalog.partitions` moves it out.

PostgreSQL needs every unique constraint of a partitioned table to include the partition key, so
the primary key becomes (id, timestamp) — `id` still comes from one identity sequence, unique on
its own, and stays the model's pk for Django — and `event_id` is no longer unique in the table
itself. Idempotency moves to `catalog_eventid`, one row per stored event (event_id primary key →
the event's id and timestamp), kept in step by triggers: an insert claims its id there (a
duplicate raises unique_violation on `event_id_unique`, as the old constraint did, or is skipped
when the session sets `recsite.event_duplicates = 'skip'`, which the importer does); an update of
`event_id`/`timestamp` follows; a delete frees the id; a TRUNCATE empties the ledger.

Forward: the existing rows are copied (one transaction; the table is locked meanwhile: at 265 B an
event, plan minutes per ten million), partitions are created for every month they cover and the
next three, indexes and foreign keys are rebuilt with their old names, and the identity sequence
continues where it was. Reverse: the rows are copied back into an unpartitioned table with the
unique constraint (possible: the ledger kept event ids unique) — both directions keep every row.
"""

from django.db import migrations, models

COLUMNS = 'id, event_id, type, value, "timestamp", recommendation_id, received_at, customer_id, product_id, session_id'
COLUMN_TYPES = """
    id bigint NOT NULL,
    event_id varchar(200) NOT NULL,
    type varchar(16) NOT NULL,
    value double precision NULL,
    "timestamp" timestamptz NOT NULL,
    recommendation_id uuid NULL,
    received_at timestamptz NOT NULL,
    customer_id bigint NULL,
    product_id bigint NOT NULL,
    session_id varchar(128) NULL
"""
# The model's indexes (their names from earlier migrations) and foreign keys, on either table.
INDEXES_AND_KEYS = """
CREATE INDEX catalog_eve_custome_3b569d_idx ON catalog_event (customer_id, "timestamp" DESC);
CREATE INDEX catalog_eve_product_12269f_idx ON catalog_event (product_id, "timestamp");
CREATE INDEX catalog_eve_timesta_4a0e5b_idx ON catalog_event ("timestamp");
CREATE INDEX event_recommendation_idx ON catalog_event (recommendation_id) WHERE recommendation_id IS NOT NULL;
CREATE INDEX event_session_idx ON catalog_event (session_id, "timestamp" DESC) WHERE session_id IS NOT NULL;
ALTER TABLE catalog_event ADD CONSTRAINT catalog_event_customer_id_fe40465a_fk_catalog_customer_id
    FOREIGN KEY (customer_id) REFERENCES catalog_customer (id) DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE catalog_event ADD CONSTRAINT catalog_event_product_id_acf11c7a_fk_catalog_product_id
    FOREIGN KEY (product_id) REFERENCES catalog_product (id) DEFERRABLE INITIALLY DEFERRED;
"""
# The next identity value: past both the old sequence and the highest id, so no id is reused.
NEXT_ID = """
    next_id := greatest(
        coalesce(pg_sequence_last_value(pg_get_serial_sequence('catalog_event', 'id')::regclass), 0),
        (SELECT coalesce(max(id), 0) FROM catalog_event)
    ) + 1;
"""

LEDGER_TRIGGERS = r"""
CREATE FUNCTION catalog_event_id_claim() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO catalog_eventid (event_id, event_pk, "timestamp") VALUES (NEW.event_id, NEW.id, NEW."timestamp")
    ON CONFLICT (event_id) DO NOTHING;
    IF FOUND THEN
        RETURN NEW;
    END IF;
    -- The same event arriving in another partition (an UPDATE of its timestamp moves it): its
    -- claim was carried over by catalog_event_id_follow.
    IF EXISTS (SELECT 1 FROM catalog_eventid WHERE event_id = NEW.event_id AND event_pk = NEW.id) THEN
        RETURN NEW;
    END IF;
    IF current_setting('recsite.event_duplicates', true) = 'skip' THEN
        RETURN NULL;
    END IF;
    RAISE unique_violation USING
        MESSAGE = 'duplicate key value violates unique constraint "event_id_unique"',
        DETAIL = format('Key (event_id)=(%s) already exists.', NEW.event_id),
        CONSTRAINT = 'event_id_unique', TABLE = 'catalog_event';
END $$;

CREATE FUNCTION catalog_event_id_follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.event_id, NEW."timestamp") IS DISTINCT FROM (OLD.event_id, OLD."timestamp") THEN
        UPDATE catalog_eventid SET event_id = NEW.event_id, "timestamp" = NEW."timestamp"
        WHERE event_id = OLD.event_id AND event_pk = OLD.id;
    END IF;
    RETURN NEW;
END $$;

CREATE FUNCTION catalog_event_id_free() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Rows moved out of the DEFAULT partition into a new month's keep their ids (catalog.partitions).
    IF current_setting('recsite.event_moving', true) = 'on' THEN
        RETURN NULL;
    END IF;
    -- The timestamp condition spares an event that an UPDATE moved to another partition.
    DELETE FROM catalog_eventid WHERE event_id = OLD.event_id AND event_pk = OLD.id AND "timestamp" = OLD."timestamp";
    RETURN NULL;
END $$;

CREATE FUNCTION catalog_event_id_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Unless the same statement emptied it (Django's flush truncates both): it is in use then.
    IF EXISTS (SELECT 1 FROM catalog_eventid) THEN
        TRUNCATE catalog_eventid;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER catalog_event_id_claim BEFORE INSERT ON catalog_event
    FOR EACH ROW EXECUTE FUNCTION catalog_event_id_claim();
CREATE TRIGGER catalog_event_id_follow BEFORE UPDATE OF event_id, "timestamp" ON catalog_event
    FOR EACH ROW EXECUTE FUNCTION catalog_event_id_follow();
CREATE TRIGGER catalog_event_id_free AFTER DELETE ON catalog_event
    FOR EACH ROW EXECUTE FUNCTION catalog_event_id_free();
CREATE TRIGGER catalog_event_id_truncate AFTER TRUNCATE ON catalog_event
    FOR EACH STATEMENT EXECUTE FUNCTION catalog_event_id_truncate();
"""

FORWARD = f"""
ALTER TABLE catalog_event RENAME TO catalog_event_unpartitioned;
CREATE TABLE catalog_event ({COLUMN_TYPES}) PARTITION BY RANGE ("timestamp");
CREATE TABLE catalog_event_default PARTITION OF catalog_event DEFAULT;
DO $$
DECLARE
    month timestamp;
BEGIN
    -- Months in UTC, as catalog.partitions names and bounds them.
    FOR month IN
        SELECT DISTINCT date_trunc('month', "timestamp" AT TIME ZONE 'UTC') FROM catalog_event_unpartitioned
        UNION SELECT date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => ahead)
        FROM generate_series(0, 3) ahead
    LOOP
        EXECUTE format(
            'CREATE TABLE %I PARTITION OF catalog_event FOR VALUES FROM (%L) TO (%L)',
            'catalog_event_p' || to_char(month, 'YYYY_MM'),
            month::text || '+00',
            (month + interval '1 month')::text || '+00'
        );
    END LOOP;
END $$;
INSERT INTO catalog_event ({COLUMNS}) SELECT {COLUMNS} FROM catalog_event_unpartitioned;
CREATE TABLE catalog_eventid (
    event_id varchar(200) NOT NULL PRIMARY KEY,
    event_pk bigint NOT NULL,
    "timestamp" timestamptz NOT NULL
);
INSERT INTO catalog_eventid (event_id, event_pk, "timestamp")
    SELECT event_id, id, "timestamp" FROM catalog_event_unpartitioned;
DO $$
DECLARE
    next_id bigint;
BEGIN
    next_id := greatest(
        coalesce(pg_sequence_last_value(pg_get_serial_sequence('catalog_event_unpartitioned', 'id')::regclass), 0),
        (SELECT coalesce(max(id), 0) FROM catalog_event_unpartitioned)
    ) + 1;
    DROP TABLE catalog_event_unpartitioned;
    EXECUTE format('ALTER TABLE catalog_event ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY (START WITH %s)', next_id);
END $$;
ALTER TABLE catalog_event ADD CONSTRAINT catalog_event_pkey PRIMARY KEY (id, "timestamp");
{INDEXES_AND_KEYS}
{LEDGER_TRIGGERS}
ANALYZE catalog_event;
ANALYZE catalog_eventid;
"""

REVERSE = f"""
CREATE TABLE catalog_event_unpartitioned ({COLUMN_TYPES});
INSERT INTO catalog_event_unpartitioned ({COLUMNS}) SELECT {COLUMNS} FROM catalog_event;
DO $$
DECLARE
    next_id bigint;
BEGIN
    {NEXT_ID}
    DROP TABLE catalog_event;
    DROP TABLE catalog_eventid;
    ALTER TABLE catalog_event_unpartitioned RENAME TO catalog_event;
    EXECUTE format('ALTER TABLE catalog_event ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY (START WITH %s)', next_id);
END $$;
DROP FUNCTION catalog_event_id_claim(), catalog_event_id_follow(), catalog_event_id_free(), catalog_event_id_truncate();
ALTER TABLE catalog_event ADD CONSTRAINT catalog_event_pkey PRIMARY KEY (id);
ALTER TABLE catalog_event ADD CONSTRAINT event_id_unique UNIQUE (event_id);
{INDEXES_AND_KEYS}
ANALYZE catalog_event;
"""


class Migration(migrations.Migration):
    dependencies = [("catalog", "0006_product_lexical_index")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunSQL(FORWARD, REVERSE)],
            state_operations=[
                migrations.RemoveConstraint(model_name="event", name="event_id_unique"),
                migrations.CreateModel(
                    name="EventId",
                    fields=[
                        ("event_id", models.CharField(max_length=200, primary_key=True, serialize=False)),
                        ("event_pk", models.BigIntegerField()),
                        ("timestamp", models.DateTimeField()),
                    ],
                ),
            ],
        )
    ]
