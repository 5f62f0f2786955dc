"""Catalog: categories, products, customers, behaviour events, and what is derived from them
(product embeddings in pgvector, item neighbours)."""

from __future__ import annotations

from django.contrib.postgres.indexes import OpClass
from django.db import models
from django.db.models.functions import Cast, Lower
from pgvector.django import HalfVectorField, HnswIndex, VectorField

from catalog.text import product_text, text_hash

# The dimension of the bundled all-MiniLM-L6-v2. Another model with another dimension re-types
# the column (see recommendations.embeddings.service) — a re-embed, not new code.
DEFAULT_EMBEDDING_DIM = 384


class Category(models.Model):
    """A node of the category tree; `path` is the full `A > B > C` path, unique."""

    name = models.CharField(max_length=200)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="children")
    path = models.CharField(max_length=1000, unique=True)

    class Meta:
        verbose_name_plural = "categories"
        ordering = ["path"]

    def __str__(self) -> str:
        return self.path


class Product(models.Model):
    external_id = models.CharField(max_length=128, unique=True)
    title = models.CharField(max_length=500)
    description = models.TextField(blank=True, default="")
    category = models.ForeignKey(
        Category,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="products",
    )
    brand = models.CharField(max_length=200, blank=True, default="")
    price = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True, default="")
    in_stock = models.BooleanField(default=True)
    attributes = models.JSONField(default=dict, blank=True)
    image_url = models.URLField(max_length=1000, blank=True, default="")
    # sha256 of the text that gets embedded; an embedding with another hash is stale.
    text_hash = models.CharField(max_length=64, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["category", "in_stock"]),
            # Search's exact-SKU match (recommendations.recall.lexical), OR-ed with the full-text
            # match: without it that OR scans the table (900 ms against 290 ms at 100k products).
            models.Index(Lower("external_id"), name="catalog_product_sku_lower_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.external_id} {self.title}"

    def save(self, *args, **kwargs) -> None:
        # Any save (admin, shell) keeps the hash true to the fields, so an edit marks the
        # product for re-embedding; bulk imports compute the same hash themselves.
        self.text_hash = text_hash(self.embedding_text())
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "text_hash"}
        super().save(*args, **kwargs)

    def embedding_text(self) -> str:
        return product_text(
            title=self.title,
            description=self.description,
            category_path=self.category.path if self.category_id else "",
            brand=self.brand,
            attributes=self.attributes if isinstance(self.attributes, dict) else None,
        )


class Customer(models.Model):
    external_id = models.CharField(max_length=128, unique=True)
    attributes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.external_id


class EventType(models.TextChoices):
    VIEW = "view"
    CLICK = "click"
    ADD_TO_CART = "add_to_cart"
    PURCHASE = "purchase"
    RATING = "rating"


class Event(models.Model):
    """A behaviour event. The table is partitioned by month of `timestamp` (migration 0007,
    catalog.partitions): its database primary key is (id, timestamp); `id`, from one identity
    sequence, is unique on its own and is the pk Django uses."""

    # Idempotency key: re-sending the same id never double-counts. Imports derive one from the
    # row's content when the source has none. Unique through `EventId` (a partitioned table's
    # unique constraints must include its partition key).
    event_id = models.CharField(max_length=200)
    # The composite indexes below lead with these columns; single-column FK indexes would only
    # slow the bulk ingest down. No customer: an anonymous session's event (`session_id` set),
    # until the session is linked to a customer.
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="events", db_index=False, null=True, blank=True
    )
    # The storefront's anonymous session id, with or without a customer. NULL, not "", when none:
    # the partial index below leaves those rows (most of them) out.
    session_id = models.CharField(max_length=128, null=True, blank=True)  # noqa: DJ001
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="events", db_index=False)
    type = models.CharField(max_length=16, choices=EventType.choices)
    value = models.FloatField(null=True, blank=True)
    timestamp = models.DateTimeField()
    recommendation_id = models.UUIDField(null=True, blank=True)
    # The server's time of receipt, beside the client's `timestamp`: what a client cannot move
    # (popularity's "now", the bad-case detectors compare with it).
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["recommendation_id"],
                name="event_recommendation_idx",
                condition=models.Q(recommendation_id__isnull=False),
            ),
            models.Index(fields=["customer", "-timestamp"]),
            # A session's history (one query per feed request); most events have no session.
            models.Index(
                fields=["session_id", "-timestamp"],
                name="event_session_idx",
                condition=models.Q(session_id__isnull=False),
            ),
            models.Index(fields=["product", "timestamp"]),
            models.Index(fields=["timestamp"]),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.type} {self.product_id} @ {self.timestamp:%Y-%m-%d %H:%M}"


class EventId(models.Model):
    """The idempotency ledger: one row per stored event, its `event_id` unique here. Written by
    database triggers on `catalog_event` (migration 0007), never by the application: an insert
    claims the id (a duplicate raises, or is skipped by the importer), a delete or a dropped
    partition frees it."""

    event_id = models.CharField(max_length=200, primary_key=True)
    # The event's `id` and `timestamp`: its row, found in its month's partition.
    event_pk = models.BigIntegerField()
    timestamp = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.event_id} -> {self.event_pk}"


class SessionLink(models.Model):
    """An anonymous session claimed by a customer: its events are theirs (merged once, and each
    later event of the session on ingest). One customer per session, for good."""

    session_id = models.CharField(max_length=128, unique=True)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="sessions")
    linked_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.session_id} -> {self.customer_id}"


class ProductEmbedding(models.Model):
    product = models.OneToOneField(Product, primary_key=True, on_delete=models.CASCADE, related_name="embedding")
    model_name = models.CharField(max_length=300)
    text_hash = models.CharField(max_length=64)
    vector = VectorField(dimensions=DEFAULT_EMBEDDING_DIM)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        # The serving index is on the vectors as halfvec (recommendations.embeddings.knn says why);
        # a model of another dimension re-types the column and rebuilds it for that dimension.
        indexes = [
            HnswIndex(
                OpClass(Cast("vector", HalfVectorField(dimensions=DEFAULT_EMBEDDING_DIM)), name="halfvec_cosine_ops"),
                name="product_embedding_hnsw",
                m=16,
                ef_construction=64,
            )
        ]

    def __str__(self) -> str:
        return f"embedding of {self.product_id} ({self.model_name})"


class ItemNeighbor(models.Model):
    """Item-to-item similarity from the interaction matrix (item-CF), top-N per item."""

    # Foreign keys without database constraints, as on every neighbour table: the rows are rewritten
    # in bulk from the products' own pks, and PostgreSQL checks a constraint row by row (three
    # quarters of a write's time, docs/scale.md). Deleting a product still deletes its rows
    # (Django's CASCADE); a row whose product is gone is never served (the rules stage reads every
    # candidate from the catalog).
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="neighbors", db_constraint=False)
    neighbor = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    score = models.FloatField()
    rank = models.PositiveSmallIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["product", "neighbor"], name="item_neighbor_unique")]
        indexes = [models.Index(fields=["product", "rank"])]

    def __str__(self) -> str:
        return f"{self.product_id} -> {self.neighbor_id} ({self.score:.3f})"


class ItemPopularity(models.Model):
    """Time-decayed popularity per product, rebuilt in batches (never per request)."""

    product = models.OneToOneField(Product, primary_key=True, on_delete=models.CASCADE, related_name="popularity")
    score = models.FloatField(db_index=True)
    computed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.product_id}: {self.score:.3f}"
