"""Answers a process keeps until the catalog changes: a search's matches and facets, a product's
similar-item candidates.

A storefront's searches repeat (the same head queries all day), and so do its product pages. At 1M
products a search's lexical match alone, its critical path, takes about 8.5 ms a statement, and
similar items read the product with its item-CF neighbours and then its nearest neighbours, two
round trips (docs/scale.md). What those stages answer depends only on what was asked (for search:
strategy, text, corrections, pool, filter, query encoder; for similar items: product, pool,
category, what is left out, the routes' weights) and on the catalog. The shopper's re-ranking and
the merchandising rules are applied to it on every request.

Each process keeps, for each kind, its last `settings.SEARCH_ANSWERS_KEPT` / `SIMILAR_ANSWERS_KEPT`
distinct answers, as arrays (tracemalloc: 9 KB a search of 120 matches with 26 facet values, 7.5 KB
a product's 200 similar-item candidates; at most about 40 MB a process at the defaults), under the
catalog's generation (`catalog.public.catalog_state`): all are dropped at the first check (every
`CATALOG_CHECK_SECONDS`) that sees a product, embedding, category or neighbour written, and none is
kept while such a write is in progress. A new spelling vocabulary snapshot drops them too (search's
lexical match picks its words by the vocabulary's counts). Callers keep no answer with a fallback.
"""

from __future__ import annotations

import threading
from array import array
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from django.conf import settings
from django.db import DatabaseError

from catalog.public import catalog_state, catalog_state_or_none
from recommendations.contracts import FusedItem, FusedList
from recommendations.recall.spelling import Vocabulary, vocabulary_current
from recsite.lru import LRU
from recsite.metrics import kept_answer_count

SEARCH = "search"
SIMILAR = "similar"

FrozenCounts = tuple[tuple[str, tuple[tuple[str, int], ...]], ...]


@dataclass(frozen=True)
class KeptAnswer:
    """A stage's fused list and what else its caller keeps with it (immutable: `extra` is shared)."""

    ranked: Sequence[FusedItem]
    extra: Hashable = None


class Ticket(NamedTuple):
    """What an answer about to be read was read under: it is kept only if both still hold."""

    generation: int
    vocabulary: Vocabulary


class Found(NamedTuple):
    answer: KeptAnswer | None
    # None: what is read now may not be kept (the catalog is being written, or its state unknown).
    ticket: Ticket | None


@dataclass(frozen=True)
class _Kept:
    pks: array
    scores: array
    # Each route's normalised score by rank, whether the route has the item (1) or not (0), and
    # the history item it was proposed from (0: none; None when it names none for any item).
    routes: tuple[tuple[str, array, bytes, array | None], ...]
    extra: Hashable

    @classmethod
    def of(cls, answer: KeptAnswer) -> _Kept:
        pks, scores, routes = _columns(answer.ranked)
        return cls(
            pks=array("q", pks),
            scores=array("d", scores),
            routes=tuple(
                (name, array("d", route_scores), bytes(present), array("q", seeds) if any(seeds) else None)
                for name, route_scores, present, seeds in routes
            ),
            extra=answer.extra,
        )

    def answer(self) -> KeptAnswer:
        """A fresh fused list: its caller may change what it is given."""
        routes = [
            (name, scores.tolist(), [bool(b) for b in present], seeds.tolist() if seeds else [0] * len(present))
            for name, scores, present, seeds in self.routes
        ]
        return KeptAnswer(
            ranked=FusedList(pks=self.pks.tolist(), scores=self.scores.tolist(), routes=routes), extra=self.extra
        )


def _columns(
    ranked: Sequence[FusedItem],
) -> tuple[list[int], list[float], list[tuple[str, list[float], list[bool], list[int]]]]:
    """A fused list's columns: a `FusedList`'s as built (reading its items would build every one of
    them, about a millisecond for 300), any other list's from its items."""
    if isinstance(ranked, FusedList):
        return ranked.columns()
    items = list(ranked)
    names = sorted({route for item in items for route in (*item.routes, *item.seeds)})
    routes = [
        (
            name,
            [item.routes.get(name, 0.0) for item in items],
            [name in item.routes for item in items],
            [item.seeds.get(name, 0) for item in items],
        )
        for name in names
    ]
    return [item.product_pk for item in items], [item.score for item in items], routes


class Answers:
    """One kind's kept answers, at most `bound()` of them, the least recently asked dropped first."""

    def __init__(self, kind: str, bound: Callable[[], int]) -> None:
        self.kind = kind
        self._bound = bound
        self._lock = threading.Lock()
        self._kept: LRU[Hashable, _Kept] = LRU(bound)
        self._generation: int | None = None
        self._vocabulary: Vocabulary | None = None

    def find(self, key: Hashable) -> Found:
        """The answer kept for `key` (None when there is none), and the ticket to keep one read now."""
        if self._bound() <= 0:
            return Found(None, None)
        state = catalog_state_or_none(stage=self.kind)
        if state is None:
            return Found(None, None)
        vocabulary = vocabulary_current()
        with self._lock:
            if state.generation != self._generation or vocabulary is not self._vocabulary:
                self._kept.clear()
                self._generation, self._vocabulary = state.generation, vocabulary
            kept = self._kept.get(key)
        kept_answer_count(kind=self.kind, hit=kept is not None)
        ticket = Ticket(state.generation, vocabulary) if state.may_keep() else None
        return Found(kept.answer() if kept is not None else None, ticket)

    def keep(self, key: Hashable, ticket: Ticket | None, answer: KeptAnswer) -> None:
        """Keep `answer`, read under `ticket`, if the catalog and vocabulary are still what it was
        read under and nobody is writing the catalog."""
        if ticket is None:
            return
        try:
            state = catalog_state()
        except DatabaseError:
            return
        if state.generation != ticket.generation or not state.may_keep():
            return
        kept = _Kept.of(answer)
        with self._lock:
            if self._generation != ticket.generation or self._vocabulary is not ticket.vocabulary:
                return
            self._kept.put(key, kept)

    def forget(self) -> None:
        with self._lock:
            self._kept.clear()
            self._generation = self._vocabulary = None


search_answers = Answers(SEARCH, lambda: settings.SEARCH_ANSWERS_KEPT)
similar_answers = Answers(SIMILAR, lambda: settings.SIMILAR_ANSWERS_KEPT)


def kept_answers_forget() -> None:
    """Read every answer from the catalog again (tests; a process never needs to)."""
    search_answers.forget()
    similar_answers.forget()


def counts_freeze(counts: Mapping[str, Mapping[str, int]]) -> FrozenCounts:
    """Facet counts as a kept answer's `extra` holds them."""
    return tuple((name, tuple(values.items())) for name, values in counts.items())


def counts_thaw(frozen: FrozenCounts) -> dict[str, dict[str, int]]:
    return {name: dict(values) for name, values in frozen}
