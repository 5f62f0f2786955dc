"""Ranking features per (customer, candidate): the one module training, serving and evaluation use.

Everything is computed from in-memory arrays that describe the world as of a time `as_of`: the
events before it (`Interactions`, the same arrays the recall routes learn from) and the catalog
(prices, categories, embeddings). `catalog_load` and `events_load` read them from the database;
`item_state_build`, `customer_state_build` and `features_compute` are pure numpy, so a feature
vector is the same whether a training run or a web request asks for it.

Two feature sets: `statistical` (nothing derived from embeddings: the control arm) and `semantic`
(statistical plus the semantic route's score and rank, the fused score and the embedding
similarities between the customer's history and the item).

Times are per customer: each row is computed as of its customer's request time (`clock`), from
the events strictly before it, so a data set whose customers live in different years gets
windows and recencies that mean the same for all of them (serving: one clock, the snapshot's).

Memory: rows are float32; the embedding similarities are computed in blocks of
`SIMILARITY_BLOCK_ROWS` rows, never as a rows × dims copy of the embeddings.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from catalog.public import Product
from placements.public import ROUTES
from recommendations.contracts import FusedItem, Interactions
from recommendations.embeddings.customers import HISTORY_ITEMS, user_vectors
from recommendations.embeddings.stored import embeddings_load
from recommendations.history import history_aggregate
from recommendations.interactions import SECONDS_PER_DAY, interactions_from_rows, rank_in_runs
from recsite.batching import batched
from recsite.db_router import read_connection

# A route that did not propose a candidate gets this rank and this score.
MISSING_RANK = 1000.0
MISSING_SCORE = -1.0
# "Never": the age or recency of something that has not happened.
MISSING_DAYS = -1.0
# Similarity to the customer's most recent items looks at this many of them.
LAST_ITEMS = 5
# The closest item of a longer history (families of variants bought over months) looks this far back.
RECENT_ITEMS = 50
# Sentence-model cosine from which two titles are taken as variants of one product (a colour, a size).
CLOSE_COSINE = 0.8
POPULARITY_WINDOWS_DAYS = (7, 30, 90)
# Rows per block of the embedding similarities (block × LAST_ITEMS × dims float32 in memory).
SIMILARITY_BLOCK_ROWS = 8192
# `catalog_load` reads this many products at a time; embeddings are normalised this many rows at a time.
CATALOG_CHUNK = 20_000
EMBEDDING_BLOCK_ROWS = 8192

STATISTICAL = (
    "itemcf_score",
    "itemcf_rank",
    "cf_score",
    "cf_rank",
    "popularity_score",
    "popularity_rank",
    "item_popularity_7d",
    "item_popularity_30d",
    "item_popularity_90d",
    "item_trend",
    "item_customers",
    "item_age_days",
    "price",
    "price_ratio",
    "customer_events",
    "customer_items",
    "customer_recency_days",
    "customer_tenure_days",
    "customer_mean_price",
    "category_affinity",
    "brand_affinity",
    "repeat_events",
    "repeat_recency_days",
)
# What kind of product the candidate is: its embedding's coordinates on the catalog's main
# directions (PCA), so the trees can learn which kinds of product a shop's customers turn to next
# (a season's goods, a category's refills) without a category tree.
TOPICS = 8
TOPIC_FEATURES = tuple(f"item_topic_{k}" for k in range(TOPICS))
# The similarities between the customer's history and the candidate (`_semantic_columns`).
SIMILARITY_FEATURES = (
    "history_cosine",
    "history_cosine_rank",
    "last_item_cosine",
    "last_items_max_cosine",
    "last_items_mean_cosine",
    "has_embedding",
    "history_max_cosine",
    "history_max_cosine_rank",
    "history_close_items",
)
# The customer's history vector on the same directions: with the item's, the trees can learn which
# kinds of customer turn to which kinds of product.
CUSTOMER_TOPIC_FEATURES = tuple(f"customer_topic_{k}" for k in range(TOPICS))
SEMANTIC = (
    *STATISTICAL,
    *TOPIC_FEATURES,
    *CUSTOMER_TOPIC_FEATURES,
    "semantic_score",
    "semantic_rank",
    "fused_score",
    *SIMILARITY_FEATURES,
)
FEATURE_SETS: dict[str, tuple[str, ...]] = {"statistical": STATISTICAL, "semantic": SEMANTIC}


@dataclass(frozen=True)
class Catalog:
    """Item-side static data, aligned with `product_pks` (sorted): item index i is product_pks[i]."""

    product_pks: np.ndarray
    # NaN where unknown.
    prices: np.ndarray
    # Category id, -1 where none.
    categories: np.ndarray
    # items × dims (float32), L2-normalised, zero rows for items without one; None when nothing is embedded.
    embeddings: np.ndarray | None
    has_embedding: np.ndarray
    # Dense brand index, -1 where none.
    brands: np.ndarray


@dataclass(frozen=True)
class EmbeddingBasis:
    """The catalog's main embedding directions, fitted once per ranker and stored with it, so
    serving projects items exactly as training did whatever the catalog became since."""

    mean: np.ndarray
    components: np.ndarray

    def project(self, vectors: np.ndarray) -> np.ndarray:
        return (vectors - self.mean) @ self.components.T

    def to_json(self) -> dict:
        return {"mean": self.mean.round(6).tolist(), "components": self.components.round(6).tolist()}

    @classmethod
    def from_json(cls, data: Mapping | None) -> EmbeddingBasis | None:
        if not data:
            return None
        return cls(
            mean=np.asarray(data["mean"], dtype=np.float32),
            components=np.asarray(data["components"], dtype=np.float32),
        )


def embedding_basis_fit(*, catalog: Catalog, n_components: int = TOPICS) -> EmbeddingBasis | None:
    """PCA of the embedded items (at most 20,000 of them, evenly spaced, to bound the time);
    each direction's sign fixed so that its largest coordinate is positive (deterministic)."""
    if catalog.embeddings is None or catalog.has_embedding.sum() <= n_components:
        return None
    rows = np.flatnonzero(catalog.has_embedding)
    rows = rows[:: max(1, len(rows) // 20_000)]
    vectors = catalog.embeddings[rows].astype(np.float64)
    mean = vectors.mean(axis=0)
    _, _, vt = np.linalg.svd(vectors - mean, full_matrices=False)
    components = vt[:n_components]
    signs = np.sign(components[np.arange(len(components)), np.abs(components).argmax(axis=1)])
    return EmbeddingBasis(mean=mean.astype(np.float32), components=(components * signs[:, None]).astype(np.float32))


@dataclass(frozen=True)
class ItemState:
    """What the events say about each item, queryable as of any time.

    Events are kept sorted by (item, time) as one float key each (item × span + offset) with the
    running sum of their weights, so the weight of an item's events in any window before any time
    is two binary searches.
    """

    reference_time: float
    keys: np.ndarray
    cumulative: np.ndarray
    origin: float
    span: float
    customers: np.ndarray
    first_seen: np.ndarray

    def window_weight(self, *, items: np.ndarray, times: np.ndarray, days: float) -> np.ndarray:
        """Summed event weight of each item in [time − days, time)."""
        upper = np.clip(times - self.origin, 0.0, self.span)
        lower = np.clip(times - days * SECONDS_PER_DAY - self.origin, 0.0, self.span)
        base = items.astype(np.float64) * (self.span + 1.0)
        hi = np.searchsorted(self.keys, base + upper, side="left")
        lo = np.searchsorted(self.keys, base + lower, side="left")
        return self.cumulative[hi] - self.cumulative[lo]


@dataclass(frozen=True)
class CustomerState:
    """What the events before each customer's clock say about them (rows = the events' dense users)."""

    # n_users: each customer's request time.
    clock: np.ndarray
    events: np.ndarray
    first_time: np.ndarray
    last_time: np.ndarray
    mean_price: np.ndarray
    # users × items: event count and latest event time per (customer, item).
    pair_events: sp.csr_matrix
    pair_last: sp.csr_matrix
    # users × categories / brands: event count per category / brand.
    category_events: sp.csr_matrix
    brand_events: sp.csr_matrix
    # users × RECENT_ITEMS item indices of the most recent distinct items, latest first, -1 padded.
    recent_items: np.ndarray
    # users × dims history vectors (the semantic route's, float32), None without embeddings.
    vectors: np.ndarray | None


@dataclass(frozen=True)
class CandidateLists:
    """Candidate rows grouped in lists: one list per (customer, request), rows contiguous."""

    users: np.ndarray
    items: np.ndarray
    # rows × len(ROUTES): each route's normalised score and rank within its own list.
    route_scores: np.ndarray
    route_ranks: np.ndarray
    fused_scores: np.ndarray
    group_sizes: np.ndarray


def reference_time_of(*, events: Interactions) -> float:
    """The data clock: just after the latest event in `events` (0 when there are none)."""
    return float(events.timestamps.max()) + 1.0 if len(events.timestamps) else 0.0


def item_state_build(*, events: Interactions) -> ItemState:
    """Windowed popularity (as of any time), distinct customers and first-seen time of every item."""
    origin = float(events.timestamps.min()) if len(events.timestamps) else 0.0
    span = float(events.timestamps.max()) - origin + 1.0 if len(events.timestamps) else 1.0
    keys = events.items.astype(np.float64) * (span + 1.0) + (events.timestamps - origin)
    order = np.argsort(keys, kind="stable")
    # Distinct (item, customer) pairs as one integer key each: a 1-d unique is far faster.
    pair_items = np.unique(events.items * max(events.n_users, 1) + events.users) // max(events.n_users, 1)
    first_seen = np.full(events.n_items, np.inf)
    np.minimum.at(first_seen, events.items, events.timestamps)
    return ItemState(
        reference_time=reference_time_of(events=events),
        keys=keys[order],
        cumulative=np.r_[0.0, np.cumsum(events.weights[order])],
        origin=origin,
        span=span,
        customers=np.bincount(pair_items, minlength=events.n_items).astype(np.float64),
        first_seen=first_seen,
    )


def customer_state_build(*, events: Interactions, catalog: Catalog, clock: float | np.ndarray) -> CustomerState:
    """Activity, recency, breadth, usual price, categories, brands, per-item repeats, recent items and
    history vector of every customer in `events`, each as of its `clock` (one time for all, or one
    per user; `events` must be before it)."""
    n_users, n_items = events.n_users, events.n_items
    clock = np.broadcast_to(np.asarray(clock, dtype=np.float64), (n_users,)).copy()
    counts = np.bincount(events.users, minlength=n_users).astype(np.float64)
    first_time = np.full(n_users, np.inf)
    last_time = np.full(n_users, -np.inf)
    np.minimum.at(first_time, events.users, events.timestamps)
    np.maximum.at(last_time, events.users, events.timestamps)
    # A user without a request time is asked about just after their own last event.
    clock = np.where(np.isnan(clock), np.where(np.isfinite(last_time), last_time + 1.0, 0.0), clock)

    prices = catalog.prices[events.items]
    priced = ~np.isnan(prices)
    price_sum = np.bincount(events.users[priced], weights=prices[priced], minlength=n_users)
    price_n = np.bincount(events.users[priced], minlength=n_users)
    mean_price = np.divide(price_sum, price_n, out=np.full(n_users, np.nan), where=price_n > 0)

    shape = (n_users, n_items)
    pair_events = sp.csr_matrix((np.ones(len(events.users)), (events.users, events.items)), shape=shape)
    pair_events.sum_duplicates()
    pair_last = _pair_max(users=events.users, items=events.items, values=events.timestamps, shape=shape)

    history = history_aggregate(
        users=events.users, items=events.items, weights=events.weights, timestamps=events.timestamps
    )
    position = rank_in_runs(history.users)
    recent_items = np.full((n_users, RECENT_ITEMS), -1, dtype=np.int64)
    recent = position < RECENT_ITEMS
    recent_items[history.users[recent], position[recent]] = history.items[recent]

    vectors = None
    if catalog.embeddings is not None:
        # The semantic route's own customer vector: its recent items, history weights.
        keep = position < HISTORY_ITEMS
        # float32 like the embeddings, so the product does not copy the embedding matrix to float64.
        semantic_history = sp.csr_matrix(
            (history.weights[keep].astype(np.float32), (history.users[keep], history.items[keep])), shape=shape
        )
        vectors = user_vectors(history=semantic_history, embeddings=catalog.embeddings).astype(np.float32)
    return CustomerState(
        clock=clock,
        events=counts,
        first_time=first_time,
        last_time=last_time,
        mean_price=mean_price,
        pair_events=pair_events,
        pair_last=pair_last,
        category_events=_group_counts(events=events, groups=catalog.categories),
        brand_events=_group_counts(events=events, groups=catalog.brands),
        recent_items=recent_items,
        vectors=vectors,
    )


def _group_counts(*, events: Interactions, groups: np.ndarray) -> sp.csr_matrix:
    """users × groups event counts (items in group -1 are not counted)."""
    known = groups[events.items] >= 0
    n_groups = int(groups.max()) + 1 if len(groups) else 0
    matrix = sp.csr_matrix(
        (np.ones(int(known.sum())), (events.users[known], groups[events.items[known]])),
        shape=(events.n_users, max(n_groups, 1)),
    )
    matrix.sum_duplicates()
    return matrix


def candidate_lists_build(
    *, users: Sequence[int], fused_lists: Sequence[Sequence[FusedItem]], product_pks: np.ndarray | None = None
) -> CandidateLists:
    """Rows from fused candidate lists, one list per entry of `users`.

    `product_pk` is the item index, or, when `product_pks` (the catalog's sorted pks) is given, a
    product pk that must be among them.

    A route's rank is the item's position in that route's own list, recovered from its normalised
    score (ties by item index, as every route breaks them).
    """
    sizes = np.array([len(fused) for fused in fused_lists], dtype=np.int64)
    n_rows = int(sizes.sum())
    items = np.fromiter((f.product_pk for fused in fused_lists for f in fused), dtype=np.int64, count=n_rows)
    if product_pks is not None:
        items = np.searchsorted(product_pks, items)
    fused_scores = np.fromiter((f.score for fused in fused_lists for f in fused), dtype=np.float64, count=n_rows)
    route_scores = np.full((n_rows, len(ROUTES)), np.nan)
    for column, route in enumerate(ROUTES):
        route_scores[:, column] = np.fromiter(
            (f.routes.get(route, np.nan) for fused in fused_lists for f in fused), dtype=np.float64, count=n_rows
        )
    groups = np.repeat(np.arange(len(sizes)), sizes)
    route_ranks = np.full((n_rows, len(ROUTES)), MISSING_RANK)
    for column in range(len(ROUTES)):
        proposed = np.flatnonzero(~np.isnan(route_scores[:, column]))
        order = proposed[np.lexsort((items[proposed], -route_scores[proposed, column], groups[proposed]))]
        route_ranks[order, column] = rank_in_runs(groups[order]) + 1
    return CandidateLists(
        users=np.repeat(np.asarray(users, dtype=np.int64), sizes),
        items=items,
        route_scores=np.where(np.isnan(route_scores), MISSING_SCORE, route_scores),
        route_ranks=route_ranks,
        fused_scores=fused_scores,
        group_sizes=sizes,
    )


def candidate_lists_concat(parts: Sequence[CandidateLists]) -> CandidateLists:
    """Lists built block by block, as one (rows and lists in order)."""
    if not parts:
        return candidate_lists_build(users=[], fused_lists=[])
    return CandidateLists(
        users=np.concatenate([part.users for part in parts]),
        items=np.concatenate([part.items for part in parts]),
        route_scores=np.concatenate([part.route_scores for part in parts]),
        route_ranks=np.concatenate([part.route_ranks for part in parts]),
        fused_scores=np.concatenate([part.fused_scores for part in parts]),
        group_sizes=np.concatenate([part.group_sizes for part in parts]),
    )


def features_compute(
    *,
    lists: CandidateLists,
    items: ItemState,
    customers: CustomerState,
    catalog: Catalog,
    names: Sequence[str],
    basis: EmbeddingBasis | None = None,
) -> np.ndarray:
    """rows × features (float32) in the order of `names` (a feature set, or a stored model's
    feature names); NaN = unknown. `basis` projects items onto the model's topic directions."""
    out = np.empty((len(lists.items), len(names)), dtype=np.float32)
    if not len(lists.items):
        return out
    columns = _columns(
        lists=lists, items=items, customers=customers, catalog=catalog, names=frozenset(names), basis=basis
    )
    for position, name in enumerate(names):
        out[:, position] = columns[name]
    return out


def _columns(
    *,
    lists: CandidateLists,
    items: ItemState,
    customers: CustomerState,
    catalog: Catalog,
    names: frozenset[str],
    basis: EmbeddingBasis | None,
) -> Mapping[str, np.ndarray]:
    u, i = lists.users, lists.items
    ref = customers.clock[u]
    columns: dict[str, np.ndarray] = {}
    for column, route in enumerate(ROUTES):
        columns[f"{route}_score"] = lists.route_scores[:, column]
        columns[f"{route}_rank"] = lists.route_ranks[:, column]
    columns["fused_score"] = lists.fused_scores

    popularity = [items.window_weight(items=i, times=ref, days=days) for days in POPULARITY_WINDOWS_DAYS]
    for days, weight in zip(POPULARITY_WINDOWS_DAYS, popularity, strict=True):
        columns[f"item_popularity_{days}d"] = np.log1p(weight)
    # Last week against the 30-day weekly average: > 0 rising, < 0 fading.
    columns["item_trend"] = np.log1p(popularity[0]) - np.log1p(popularity[1] * 7.0 / 30.0)
    columns["item_customers"] = np.log1p(items.customers[i])
    first_seen = items.first_seen[i]
    columns["item_age_days"] = np.where(first_seen < ref, (ref - first_seen) / SECONDS_PER_DAY, MISSING_DAYS)
    price = catalog.prices[i]
    columns["price"] = price
    columns["customer_mean_price"] = customers.mean_price[u]
    columns["price_ratio"] = price / customers.mean_price[u]

    events = customers.events[u]
    columns["customer_events"] = np.log1p(events)
    columns["customer_items"] = np.log1p(np.diff(customers.pair_events.indptr)[u])
    last, first = customers.last_time[u], customers.first_time[u]
    columns["customer_recency_days"] = np.where(events > 0, (ref - last) / SECONDS_PER_DAY, MISSING_DAYS)
    columns["customer_tenure_days"] = np.where(events > 0, (ref - first) / SECONDS_PER_DAY, MISSING_DAYS)
    columns["category_affinity"] = _affinity(
        u=u, groups=catalog.categories[i], counts=customers.category_events, events=events
    )
    columns["brand_affinity"] = _affinity(u=u, groups=catalog.brands[i], counts=customers.brand_events, events=events)

    repeats = np.asarray(customers.pair_events[u, i]).ravel() if len(i) else np.zeros(0)
    pair_last = np.asarray(customers.pair_last[u, i]).ravel() if len(i) else np.zeros(0)
    columns["repeat_events"] = np.log1p(repeats)
    columns["repeat_recency_days"] = np.where(repeats > 0, (ref - pair_last) / SECONDS_PER_DAY, MISSING_DAYS)

    if names & set(SIMILARITY_FEATURES):
        columns |= _semantic_columns(lists=lists, customers=customers, catalog=catalog)
    if names & set(TOPIC_FEATURES):
        columns |= _topic_columns(items=i, catalog=catalog, basis=basis)
    if names & set(CUSTOMER_TOPIC_FEATURES):
        columns |= _customer_topic_columns(users=u, customers=customers, basis=basis)
    return columns


def _topic_columns(*, items: np.ndarray, catalog: Catalog, basis: EmbeddingBasis | None) -> dict[str, np.ndarray]:
    """The candidates' coordinates on the basis (NaN without a basis or an embedding), in blocks."""
    topics = np.full((len(items), TOPICS), np.nan, dtype=np.float32)
    if basis is not None and catalog.embeddings is not None:
        for start in range(0, len(items), SIMILARITY_BLOCK_ROWS):
            block = items[start : start + SIMILARITY_BLOCK_ROWS]
            embedded = catalog.has_embedding[block]
            topics[start : start + len(block)][embedded, : len(basis.components)] = basis.project(
                catalog.embeddings[block[embedded]]
            )
    return {name: topics[:, k] for k, name in enumerate(TOPIC_FEATURES)}


def _customer_topic_columns(
    *, users: np.ndarray, customers: CustomerState, basis: EmbeddingBasis | None
) -> dict[str, np.ndarray]:
    """The customers' history vectors on the basis (NaN without a basis or a history vector)."""
    topics = np.full((len(users), TOPICS), np.nan, dtype=np.float32)
    if basis is not None and customers.vectors is not None and len(users):
        # One projection per customer, then spread to their rows.
        distinct, inverse = np.unique(users, return_inverse=True)
        vectors = customers.vectors[distinct]
        projected = basis.project(vectors)
        projected[np.abs(vectors).sum(axis=1) == 0] = np.nan
        topics[:, : len(basis.components)] = projected[inverse.ravel()]
    return {name: topics[:, k] for k, name in enumerate(CUSTOMER_TOPIC_FEATURES)}


def _affinity(*, u: np.ndarray, groups: np.ndarray, counts: sp.csr_matrix, events: np.ndarray) -> np.ndarray:
    """The share of the customer's events in the candidate's group (category, brand); 0 for none."""
    inside = np.zeros(len(u))
    known = groups >= 0
    if known.any():
        inside[known] = np.asarray(counts[u[known], groups[known]]).ravel()
    return np.divide(inside, events, out=np.zeros(len(u)), where=events > 0)


def _semantic_columns(*, lists: CandidateLists, customers: CustomerState, catalog: Catalog) -> dict[str, np.ndarray]:
    u, i = lists.users, lists.items
    n = len(i)
    names = (
        "history_cosine",
        "last_item_cosine",
        "last_items_max_cosine",
        "last_items_mean_cosine",
        "history_max_cosine",
        "history_close_items",
    )
    if catalog.embeddings is None or customers.vectors is None:
        zeros = np.zeros(n, dtype=np.float32)
        return dict.fromkeys((*names, "history_cosine_rank", "history_max_cosine_rank", "has_embedding"), zeros)
    embeddings = catalog.embeddings
    has_embedding = catalog.has_embedding
    out = {name: np.zeros(n, dtype=np.float32) for name in names}
    for start in range(0, n, SIMILARITY_BLOCK_ROWS):
        block = slice(start, start + SIMILARITY_BLOCK_ROWS)
        candidates = embeddings[i[block]]
        out["history_cosine"][block] = np.einsum("rd,rd->r", customers.vectors[u[block]], candidates)
    # A list's rows share one customer: their similarities to the customer's recent items are one
    # (candidates × dims) @ (dims × recent) product, without a rows × recent × dims copy.
    ends = np.cumsum(lists.group_sizes)
    for end, size in zip(ends.tolist(), lists.group_sizes.tolist(), strict=True):
        if not size:
            continue
        rows = slice(end - size, end)
        recent = customers.recent_items[u[end - 1]]
        recent = recent[(recent >= 0)]
        recent = recent[has_embedding[recent]]
        if not len(recent):
            continue
        sims = embeddings[i[rows]] @ embeddings[recent].T
        last = sims[:, : min(LAST_ITEMS, len(recent))]
        if customers.recent_items[u[end - 1], 0] == recent[0]:
            out["last_item_cosine"][rows] = sims[:, 0]
        out["last_items_max_cosine"][rows] = last.max(axis=1)
        out["last_items_mean_cosine"][rows] = last.mean(axis=1)
        out["history_max_cosine"][rows] = sims.max(axis=1)
        out["history_close_items"][rows] = np.log1p((sims >= CLOSE_COSINE).sum(axis=1))
    # Within its own list: how the candidate's similarity to the history compares with the others'.
    groups = np.repeat(np.arange(len(lists.group_sizes)), lists.group_sizes)
    ranks = {}
    for name in ("history_cosine", "history_max_cosine"):
        order = np.lexsort((np.arange(n), -out[name], groups))
        rank = np.empty(n, dtype=np.float32)
        rank[order] = rank_in_runs(groups[order]) + 1
        ranks[f"{name}_rank"] = rank
    return out | ranks | {"has_embedding": has_embedding[i].astype(np.float32)}


def _pair_max(*, users: np.ndarray, items: np.ndarray, values: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    """users × items holding the largest value per (user, item) pair."""
    if not len(users):
        return sp.csr_matrix(shape)
    keys, inverse = np.unique(users * shape[1] + items, return_inverse=True)
    latest = np.full(len(keys), -np.inf)
    np.maximum.at(latest, inverse.ravel(), values)
    return sp.csr_matrix((latest, (keys // shape[1], keys % shape[1])), shape=shape)


# --- loaders: the database as of a time --------------------------------------------------------


def catalog_load() -> Catalog:
    """Every product's price, category and normalised embedding, in product pk order (2 queries).

    Read in chunks of `CATALOG_CHUNK` rows into numpy arrays, and the embeddings normalised where
    they were loaded: a 1M-product catalog never lives as a million Python rows, nor its embedding
    matrix as more than one float32 copy.
    """
    query = Product.objects.order_by("pk").values_list("pk", "price", "category_id", "brand")
    pks, prices, categories, brand_names = [], [], [], []
    for chunk in batched(query.iterator(chunk_size=CATALOG_CHUNK), CATALOG_CHUNK):
        pks.append(np.fromiter((row[0] for row in chunk), dtype=np.int64, count=len(chunk)))
        prices.append(
            np.fromiter(
                (np.nan if row[1] is None else float(row[1]) for row in chunk), dtype=np.float64, count=len(chunk)
            )
        )
        categories.append(
            np.fromiter((-1 if row[2] is None else row[2] for row in chunk), dtype=np.int64, count=len(chunk))
        )
        brand_names.extend(row[3] for row in chunk)
    product_pks = np.concatenate(pks) if pks else np.zeros(0, dtype=np.int64)
    return catalog_build(
        product_pks=product_pks,
        prices=np.concatenate(prices) if prices else np.zeros(0, dtype=np.float64),
        category_ids=np.concatenate(categories) if categories else np.zeros(0, dtype=np.int64),
        embeddings=embeddings_load(product_pks=product_pks),
        brand_names=brand_names,
        embeddings_owned=True,
    )


def catalog_build(
    *,
    product_pks: np.ndarray,
    prices: np.ndarray,
    category_ids: np.ndarray,
    embeddings: np.ndarray | None,
    brand_names: Sequence[str] | None = None,
    embeddings_owned: bool = False,
) -> Catalog:
    """A `Catalog` from raw arrays: categories and brands (case-folded, blank = none) re-indexed
    densely, embeddings L2-normalised (in place when `embeddings_owned`, a float32 array the caller
    hands over; otherwise into a new array, the caller's left as it was)."""
    known = category_ids >= 0
    categories = np.full(len(category_ids), -1, dtype=np.int64)
    if known.any():
        categories[known] = np.unique(category_ids[known], return_inverse=True)[1].ravel()
    if embeddings is not None:
        in_place = embeddings_owned and embeddings.dtype == np.float32 and embeddings.flags.writeable
        embeddings = _normalized(embeddings, out=embeddings if in_place else None)
    return Catalog(
        product_pks=product_pks,
        prices=prices,
        categories=categories,
        embeddings=embeddings,
        has_embedding=np.zeros(len(product_pks), dtype=bool) if embeddings is None else _nonzero_rows(embeddings),
        brands=np.full(len(product_pks), -1, dtype=np.int64) if brand_names is None else _dense_labels(brand_names),
    )


def _normalized(embeddings: np.ndarray, *, out: np.ndarray | None = None) -> np.ndarray:
    """Rows scaled to unit length as float32, zero rows (and rows without a positive norm) zero.

    A block of rows at a time, so no full-size temporary (the squares of the norm, a float64 or a
    second float32 copy) is ever held; each row's values are those of the whole-matrix expression.
    """
    out = np.zeros(embeddings.shape, dtype=np.float32) if out is None else out
    for start in range(0, len(embeddings), EMBEDDING_BLOCK_ROWS):
        block = slice(start, start + EMBEDDING_BLOCK_ROWS)
        norms = np.linalg.norm(embeddings[block], axis=1, keepdims=True)
        positive = norms > 0
        np.divide(embeddings[block], norms, out=out[block], where=positive)
        out[block][~positive[:, 0]] = 0.0
    return out


def _nonzero_rows(embeddings: np.ndarray) -> np.ndarray:
    """Which rows hold a vector (any non-zero value), a block of rows at a time."""
    return np.concatenate(
        [
            np.abs(embeddings[start : start + EMBEDDING_BLOCK_ROWS]).sum(axis=1) > 0
            for start in range(0, len(embeddings), EMBEDDING_BLOCK_ROWS)
        ]
        or [np.zeros(0, dtype=bool)]
    )


def _dense_labels(names: Sequence[str]) -> np.ndarray:
    """Dense indices of case-folded, stripped names; -1 for blank ones."""
    folded = np.array([(name or "").strip().casefold() for name in names], dtype=object)
    labels = np.full(len(folded), -1, dtype=np.int64)
    known = folded != ""
    if known.any():
        labels[known] = np.unique(folded[known].astype(str), return_inverse=True)[1].ravel()
    return labels


def events_load(
    *,
    as_of: float,
    product_pks: np.ndarray,
    customer_pks: Sequence[int] | None = None,
    customer_external_ids: Sequence[str] | None = None,
) -> tuple[Interactions, np.ndarray]:
    """Events strictly before `as_of` (POSIX seconds) as `Interactions` over `product_pks`, only
    of the customers given (by pk or external id) when any are; returns them and the customer pk of
    each dense user (1 query).

    Events on products not in `product_pks` (added since the catalog was read) are left out.
    """
    sql = (
        "SELECT customer_id, product_id, type, value, EXTRACT(EPOCH FROM timestamp)"
        " FROM catalog_event WHERE timestamp < %s AND customer_id IS NOT NULL"
    )
    params: list = [dt.datetime.fromtimestamp(as_of, tz=dt.UTC)]
    if customer_pks is not None:
        sql += " AND customer_id = ANY(%s)"
        params.append(list(customer_pks))
    if customer_external_ids is not None:
        sql += " AND customer_id IN (SELECT id FROM catalog_customer WHERE external_id = ANY(%s))"
        params.append(list(customer_external_ids))
    with read_connection().cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    products = np.array([row[1] for row in rows], dtype=np.int64)
    known = np.isin(products, product_pks).tolist()
    rows = [(c, p, t, v, float(s)) for (c, p, t, v, s), keep in zip(rows, known, strict=True) if keep]
    customers = np.unique(np.array([row[0] for row in rows], dtype=np.int64))
    return interactions_from_rows(rows=rows, product_pks=product_pks), customers
