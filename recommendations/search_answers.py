"""A search's matches and facets, kept by the process that read them until the catalog changes.

A storefront's searches repeat (the same head queries all day), and at 1M products the lexical
match alone, a search's critical path, takes about 8.5 ms a statement (docs/scale.md). What the
match stage answers (the fused matches, what matched, the exact SKU or brand matches, the facets)
depends only on the search (strategy, text, corrections, pool, filter, query encoder) and on the
catalog; the shopper's re-ranking and the merchandising rules are applied to it on every request.

Each process keeps its last `settings.SEARCH_ANSWERS_KEPT` distinct searches, as arrays (about 5
KB each), under the catalog's generation (`catalog.public.catalog_state`): all are dropped at the
first check (every `CATALOG_CHECK_SECONDS`) that sees a product, embedding, category or neighbour
written, and none is kept while such a write is in progress. A new spelling vocabulary snapshot
drops them too (the lexical match picks its words by the vocabulary's counts). An answer with a
fallback (the embedding model unavailable) is never kept.
"""

from __future__ import annotations

import logging
import threading
from array import array
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from django.conf import settings
from django.db import DatabaseError

from catalog.public import CatalogState, catalog_state
from recommendations.contracts import FusedItem, FusedList
from recommendations.recall.spelling import Vocabulary, vocabulary_current
from recsite.metrics import fallback_count, search_answer_count

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SearchAnswer:
    """What a search's match stage answered."""

    ranked: Sequence[FusedItem]
    matched: str
    exact: frozenset[int]
    facets: dict[str, dict[str, int]]


class Ticket(NamedTuple):
    """What an answer about to be read was read under: it is kept only if both still hold."""

    generation: int
    vocabulary: Vocabulary


class Found(NamedTuple):
    answer: SearchAnswer | None
    # None: what is read now may not be kept (the catalog is being written, or its state unknown).
    ticket: Ticket | None


@dataclass(frozen=True)
class _Kept:
    pks: array
    scores: array
    # Each route's normalised score by rank, and whether the route has the item (1) or not (0).
    routes: tuple[tuple[str, array, bytes], ...]
    matched: str
    exact: frozenset[int]
    facets: tuple[tuple[str, tuple[tuple[str, int], ...]], ...]

    @classmethod
    def of(cls, answer: SearchAnswer) -> _Kept:
        items = list(answer.ranked)
        names = sorted({route for item in items for route in item.routes})
        return cls(
            pks=array("q", (item.product_pk for item in items)),
            scores=array("d", (item.score for item in items)),
            routes=tuple(
                (
                    name,
                    array("d", (item.routes.get(name, 0.0) for item in items)),
                    bytes(name in item.routes for item in items),
                )
                for name in names
            ),
            matched=answer.matched,
            exact=answer.exact,
            facets=tuple((name, tuple(values.items())) for name, values in answer.facets.items()),
        )

    def answer(self) -> SearchAnswer:
        """A fresh answer: its caller may change what it is given."""
        count = len(self.pks)
        return SearchAnswer(
            ranked=FusedList(
                pks=self.pks.tolist(),
                scores=self.scores.tolist(),
                routes=[
                    (name, scores.tolist(), [bool(b) for b in present], [0] * count)
                    for name, scores, present in self.routes
                ],
            ),
            matched=self.matched,
            exact=self.exact,
            facets={name: dict(values) for name, values in self.facets},
        )


class _Answers:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.kept: OrderedDict[Hashable, _Kept] = OrderedDict()
        self.generation: int | None = None
        self.vocabulary: Vocabulary | None = None


_answers = _Answers()


def search_answer_find(key: Hashable) -> Found:
    """The answer kept for `key` (None when there is none), and the ticket to keep one read now."""
    if settings.SEARCH_ANSWERS_KEPT <= 0:
        return Found(None, None)
    try:
        state: CatalogState = catalog_state()
    except DatabaseError:
        logger.warning("the catalog's state could not be read; searching without kept answers", exc_info=True)
        fallback_count(stage="search", reason="catalog_state_unavailable")
        return Found(None, None)
    vocabulary = vocabulary_current()
    with _answers.lock:
        if state.generation != _answers.generation or vocabulary is not _answers.vocabulary:
            _answers.kept.clear()
            _answers.generation, _answers.vocabulary = state.generation, vocabulary
        kept = _answers.kept.get(key)
        if kept is not None:
            _answers.kept.move_to_end(key)
    search_answer_count(hit=kept is not None)
    ticket = Ticket(state.generation, vocabulary) if state.may_keep() else None
    return Found(kept.answer() if kept is not None else None, ticket)


def search_answer_keep(key: Hashable, ticket: Ticket | None, answer: SearchAnswer) -> None:
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
    with _answers.lock:
        if _answers.generation != ticket.generation or _answers.vocabulary is not ticket.vocabulary:
            return
        _answers.kept[key] = kept
        _answers.kept.move_to_end(key)
        while len(_answers.kept) > settings.SEARCH_ANSWERS_KEPT:
            _answers.kept.popitem(last=False)


def search_answers_forget() -> None:
    """Read every search from the catalog again (tests; a process never needs to)."""
    with _answers.lock:
        _answers.kept.clear()
        _answers.generation = _answers.vocabulary = None
