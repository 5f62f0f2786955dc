"""Lexical recall for search: PostgreSQL full-text matching of the query's words (as prefixes)
against a product's external id (SKU), brand and title, and an exact SKU or brand match first.

What the embedding misses: SKUs, brand names and exact terms MiniLM has no meaning for. The
embedded PostgreSQL ships no pg_trgm, so typos are corrected before this query
(`recommendations.recall.spelling`). The document is the products' stored `search_document`
column with its GIN index (catalog migration 0009).

All of the query's words are matched first (a typed word or its correction): a common word alone
(`vintage`) matches a large share of a big catalog, and ranking every match is what a search
would spend its time on (at 1M products, hundreds of thousands of rows: 1.2-1.4 s a query). Only
when fewer than MIN_EVERY_WORD products hold them all does the query widen to any of them; the
semantic route, fused with this one, brings what shares the query's meaning rather than one of
its words.

The GIN index reads every posting list of a prefix's words in full before it intersects: three
common prefixes at 1M products took 30-50 ms before a row was read. So the index is asked only for
the words whose posting lists cost less than the rows they rule out would cost to check (by the
vocabulary's counts, `lexical_index_tsquery`), and the other words are checked on the rows it
returns, which finds the same rows. A widened match finds its rows
by the rarest words that hold a page (`lexical_widened_tsquery`; at most WIDEN_MAX_PRODUCTS),
ranked by all of them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from recommendations.contracts import Candidate
from recommendations.recall.semantic import KnnFilter, knn_filter_sql
from recommendations.recall.spelling import Vocabulary, vocabulary_current
from recsite.db_router import read_connection

ROUTE = "lexical"
DOCUMENT = "p.search_document"
# Letters and digits only: tsquery operators in user input can never form a malformed query.
WORD = re.compile(r"\w+")
MAX_WORDS = 20
# Shorter words match whole tokens only: a one-letter prefix matches half the catalog.
PREFIX_MIN_LENGTH = 3
# An exact SKU or brand outranks any text match (ts_rank stays well below 1).
EXACT_BONUS = 1.0
# Products holding every word below which the query widens to any word: a page of results.
MIN_EVERY_WORD = 10
# What asking the index for a word costs, a product its posting lists hold (a prefix's: all its
# words'), against what a row the index returns costs, read and checked for the other words. At 1M
# products (EXPLAIN ANALYZE): 0.2-0.4 µs a posting, about 2 µs a row.
INDEX_POSTING_US = 0.3
ROW_CHECK_US = 2.0
# The products a widened (any-word) match may find rows by, as the vocabulary counts them: ranking
# each costs about 2 µs (the widened `red heart candle holder` ranked 245,685 rows at 1M products,
# 0.64-0.72 s). A word commoner than that finds nothing the rarer ones and the semantic route miss.
WIDEN_MAX_PRODUCTS = 20_000


def lexical_tsquery(query: str, corrections: Sequence[tuple[str, str]] = (), *, every: bool = False) -> str | None:
    """`word:* | word2 | …` for the query's words and their corrections ((typed, corrected)
    pairs); with `every`, `word:* & (typo:* | corrected:*) & …`. None when there are no words."""
    groups = _word_groups(query, corrections)
    if every:
        return " & ".join(_group_tsquery(group) for group in groups) or None
    return " | ".join(dict.fromkeys(_term(word) for group in groups for word in group)) or None


def lexical_index_tsquery(
    query: str, corrections: Sequence[tuple[str, str]] = (), *, vocabulary: Vocabulary
) -> str | None:
    """The every-word query's words (a typed word, or a typo with its correction) the index is
    asked for, as a tsquery; None when that is the whole query (one word, or none the vocabulary
    counts). The rarest by the vocabulary's counts, then each next rarest while its postings
    (INDEX_POSTING_US each) cost less than the rows it would rule out (ROW_CHECK_US each; the rows
    estimated as if words fell on products independently). Words with digits other than short
    numbers are not counted: they are checked, not asked."""
    groups = _word_groups(query, corrections)
    estimates = [_group_products(group, vocabulary) for group in groups]
    counted = sorted((estimate, index) for index, estimate in enumerate(estimates) if estimate is not None)
    if len(groups) < 2 or not counted:
        return None
    products = max(vocabulary.products, counted[-1][0], 1)
    rows, asked = counted[0][0], [counted[0][1]]
    for estimate, index in counted[1:]:
        share = min(1.0, estimate / products)
        # Commoner words cost more and rule out less: the first not worth asking ends the choice.
        if estimate * INDEX_POSTING_US >= rows * (1.0 - share) * ROW_CHECK_US:
            break
        rows *= share
        asked.append(index)
    if len(asked) == len(groups):
        return None
    return " & ".join(_group_tsquery(groups[index]) for index in sorted(asked))


def lexical_widened_tsquery(
    query: str, corrections: Sequence[tuple[str, str]] = (), *, vocabulary: Vocabulary, page: int
) -> str | None:
    """The any-word query's words the widened match may find rows by: the rarest first, until
    the products they match (by the vocabulary's counts) hold a `page` or the next word would
    take them past WIDEN_MAX_PRODUCTS, at least one; words with digits only when no word is
    counted. None when that is every word. Each match is still ranked against every word.

    ts_rank weighs no word by its rarity, so among the rows that hold one of the words a common
    word's rows would tie with the rare word's and fill the page by id; a rarer word says more
    about what was asked for. Rows holding every word hold the rarest, so they are always found."""
    words = list(dict.fromkeys(word for group in _word_groups(query, corrections) for word in group))
    # Only words of letters find a widened match's rows (short numbers are counted for `lexical_index_tsquery`).
    counted = sorted(
        (count, word) for word in words if word.isalpha() and (count := _products(word, vocabulary)) is not None
    )
    if not counted:
        return None
    kept, total = [], 0
    for count, word in counted:
        if kept and (total >= page or total + count > WIDEN_MAX_PRODUCTS):
            break
        kept.append(word)
        total += count
    if len(kept) == len(words):
        return None
    return " | ".join(_term(word) for word in kept)


def _word_groups(query: str, corrections: Sequence[tuple[str, str]]) -> list[tuple[str, ...]]:
    """Each distinct query word (at most MAX_WORDS), with its correction when it has one."""
    corrected = {typed.lower(): fixed.lower() for typed, fixed in corrections}
    words = list(dict.fromkeys(WORD.findall(query.lower())))[:MAX_WORDS]
    return [(word, corrected[word]) if word in corrected else (word,) for word in words]


def _group_tsquery(group: tuple[str, ...]) -> str:
    return f"({' | '.join(_term(word) for word in group)})" if len(group) > 1 else _term(group[0])


def _group_products(group: tuple[str, ...], vocabulary: Vocabulary) -> int | None:
    counts = [_products(word, vocabulary) for word in group]
    return None if None in counts else sum(counts)


def _products(word: str, vocabulary: Vocabulary) -> int | None:
    """How many products `_term(word)` matches, by the vocabulary (None: words with digits, but
    for numbers of one or two digits)."""
    if word.isdigit() and len(word) < PREFIX_MIN_LENGTH:
        return vocabulary.numbers.get(word, 0)
    if not word.isalpha():
        return None
    if len(word) >= PREFIX_MIN_LENGTH:
        return vocabulary.prefix_products(word)
    return vocabulary.counts.get(word, 0)


def _term(word: str) -> str:
    return f"{word}:*" if len(word) >= PREFIX_MIN_LENGTH else word


def lexical_candidates(
    *, query: str, n: int, knn_filter: KnnFilter, corrections: Sequence[tuple[str, str]] = ()
) -> list[Candidate]:
    """The `n` products best matching `query` (a typed word or its correction: (typed, corrected)
    pairs) by text; score = ts_rank, + EXACT_BONUS when the whole query is the product's SKU or
    brand (any case)."""
    any_word = lexical_tsquery(query, corrections)
    if any_word is None or n <= 0:
        return []
    every_word = lexical_tsquery(query, corrections, every=True)
    exact = query.strip().lower()
    filters, filter_params = knn_filter_sql(knn_filter=knn_filter, pk_column="p.id")
    vocabulary = vocabulary_current()
    with read_connection().cursor() as cursor:
        rows: list = []
        if every_word is not None and every_word != any_word:
            # The index finds the most selective words' matches; `ts_match_vq` (the function behind
            # `@@`, which the planner does not hand to the index) checks every word on them.
            indexed = lexical_index_tsquery(query, corrections, vocabulary=vocabulary)
            match = (
                f"{DOCUMENT} @@ q.tsq"
                if indexed is None
                else f"({DOCUMENT} @@ i.tsq AND ts_match_vq({DOCUMENT}, q.tsq))"
            )
            cursor.execute(
                _match_sql(filters=filters, match=match),
                [exact, exact, every_word, indexed or every_word, exact, *filter_params, n],
            )
            rows = cursor.fetchall()
        enough = min(n, MIN_EVERY_WORD)
        if len(rows) < enough:

            def widened_rows(words: str | None) -> list:
                cursor.execute(
                    _match_sql(filters=filters, match=f"{DOCUMENT} @@ i.tsq"),
                    [exact, exact, any_word, words or any_word, exact, *filter_params, n],
                )
                return cursor.fetchall()

            # Widened: found by the rarest words that hold a page (`lexical_widened_tsquery`), ranked by all.
            widened = lexical_widened_tsquery(query, corrections, vocabulary=vocabulary, page=n)
            rows = widened_rows(widened)
            if len(rows) < enough:
                # The filters (a category, stock) left too few of them: every word within the bound.
                bounded = lexical_widened_tsquery(query, corrections, vocabulary=vocabulary, page=WIDEN_MAX_PRODUCTS)
                if bounded != widened:
                    rows = widened_rows(bounded)
    return [Candidate(product_pk=pk, route=ROUTE, score=float(score)) for pk, score in rows]


def _match_sql(*, filters: list[str], match: str) -> str:
    """The ranked match: `q` is the tsquery ranked by, `i` the one the index may be asked."""
    return (
        f"SELECT p.id, ts_rank({DOCUMENT}, q.tsq) + CASE WHEN lower(p.external_id) = %s OR lower(p.brand) = %s"
        f" THEN {EXACT_BONUS} ELSE 0 END AS score"
        " FROM catalog_product p, to_tsquery('simple', %s) q(tsq), to_tsquery('simple', %s) i(tsq)"
        f" WHERE ({match} OR lower(p.external_id) = %s) AND {' AND '.join(filters)}"
        " ORDER BY score DESC, p.id LIMIT %s"
    )
