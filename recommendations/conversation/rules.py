"""The rule-based turn parser, pure: a shopper's sentence and the catalog's vocabulary in, the
turn's changes and what could not be expressed out.

It reads, in order: a reset ("start over"); price bounds ("under 20", "over 50") and directions
("cheaper", "more expensive"); exclusions ("no mugs", "without glass"); brands and attribute
values the catalog really has ("by Acme", "in blue"); and keeps the remaining content words as a
query amendment ("something for a child" → "child"). A colour or "key value" the catalog does not
have (where it has that attribute) is reported as ignored instead of silently searched for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from recommendations.conversation.changes import PRICE_DOWN, PRICE_UP, TurnChanges

MAX_QUERY_TERMS = 8
STOPWORDS = frozenset(
    """a an the and or of for to in on at by with me my i we you it its is are be can could would like
    want wanted need show give find get some something anything thing things one ones please just only
    also more less much very really maybe instead rather other another else any them those these this that
    what which how now then still but so too kind sort type looking look see buy gift colour color coloured
    colored shade""".split()
)
COLOURS = frozenset(
    """red blue green yellow black white pink purple orange brown grey gray silver gold ivory cream beige
    navy teal turquoise lilac violet""".split()
)
# A catalog with a colour attribute answers colours by it; one without finds them in the titles.
COLOUR_KEYS = frozenset({"color", "colour"})
_NUMBER = r"[£$€]?\s*(\d+(?:[.,]\d{1,2})?)"
_PRICE_MAX = re.compile(rf"\b(?:under|below|less than|cheaper than|at most|max(?:imum)?|up to)\s+{_NUMBER}")
_PRICE_MIN = re.compile(rf"\b(?:over|above|more than|pricier than|at least|min(?:imum)?|from)\s+{_NUMBER}")
_CHEAPER = re.compile(r"\b(?:cheaper|less expensive|lower price[sd]?|inexpensive|budget|cheap)\b")
_PRICIER = re.compile(r"\b(?:more expensive|pricier|premium|fancier|higher end|luxury|upmarket)\b")
_RESET = re.compile(r"\b(?:start over|start again|reset|clear (?:all|everything|filters))\b")
_NEGATION = re.compile(r"\b(?:no|not|without|except|excluding|exclude|nothing)\s+(?:(?:a|an|the|any|more)\s+)?([\w-]+)")
_BY = re.compile(r"\bby\s+([\w&'-]+(?:\s+[\w&'-]+)?)")
_WORD = re.compile(r"[\w-]+")
_AMOUNT = re.compile(_NUMBER)


@dataclass(frozen=True)
class Vocabulary:
    """The catalog's real fields, lower-cased for matching: brand → its spelling, attribute
    value → the (key, value) pairs that carry it, and the attribute keys."""

    brands: dict[str, str] = field(default_factory=dict)
    values: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    keys: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ParsedTurn:
    changes: TurnChanges
    ignored: tuple[str, ...] = ()


def words(text: str) -> list[str]:
    """The words of `text` as the parser splits them (letters, digits, hyphens)."""
    return _WORD.findall(text)


def amounts(text: str) -> set[Decimal]:
    """Every amount written in `text` ("7.50", "£7,50", "8"), as the price rules read one."""
    return {amount for raw in _AMOUNT.findall(text) if (amount := _amount(raw)) is not None}


def singular(word: str) -> str:
    """A plural's stem for matching titles ("mugs" → "mug", "boxes" → "box", "candies" → "candy")."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("xes", "ches", "shes", "sses")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def rule_parse(text: str, vocabulary: Vocabulary) -> ParsedTurn:
    """The changes a turn asks for, reading only what the catalog can express."""
    rest = " " + text.lower().replace("’", "'") + " "
    ignored: list[str] = []
    reset = bool(_RESET.search(rest))
    rest = _RESET.sub(" ", rest)
    price_max = _price(_PRICE_MAX, rest)
    price_min = _price(_PRICE_MIN, rest)
    rest = _PRICE_MIN.sub(" ", _PRICE_MAX.sub(" ", rest))
    direction = PRICE_DOWN if _CHEAPER.search(rest) else PRICE_UP if _PRICIER.search(rest) else None
    rest = _PRICIER.sub(" ", _CHEAPER.sub(" ", rest))
    exclusions = tuple(dict.fromkeys(singular(m.group(1)) for m in _NEGATION.finditer(rest)))
    rest = _NEGATION.sub(" ", rest)
    brands: list[str] = []
    for match in _BY.finditer(rest):
        phrase = match.group(1)
        name = vocabulary.brands.get(phrase) or vocabulary.brands.get(phrase.split()[0])
        if name:
            brands.append(name)
            rest = rest.replace(match.group(0), " ")
    words_brands, attributes, query_terms = _words_read(words(rest), vocabulary, ignored)
    brands += words_brands
    if len(query_terms) > MAX_QUERY_TERMS:
        ignored.append(f"only the first {MAX_QUERY_TERMS} words were added to the query")
    changes = TurnChanges(
        query_terms=tuple(dict.fromkeys(query_terms))[:MAX_QUERY_TERMS],
        price_direction=direction if price_max is None and price_min is None else None,
        price_min=price_min,
        price_max=price_max,
        brands=tuple(dict.fromkeys(brands)),
        attributes=tuple(attributes.items()),
        exclude_terms=exclusions,
        reset=reset,
    )
    if changes == TurnChanges() and not ignored:
        ignored.append("nothing in this turn maps to a filter, an exclusion, a price or a search term")
    return ParsedTurn(changes=changes, ignored=tuple(ignored))


def _words_read(
    words: list[str], vocabulary: Vocabulary, ignored: list[str]
) -> tuple[list[str], dict[str, str], list[str]]:
    """Brands, attribute values and query terms among the remaining words (a two-word brand or
    value matched first); a value the catalog lacks is added to `ignored`."""
    brands: list[str] = []
    attributes: dict[str, str] = {}
    query_terms: list[str] = []
    skip = 0
    for i, word in enumerate(words):
        if skip:
            skip -= 1
            continue
        pair = f"{word} {words[i + 1]}" if i + 1 < len(words) else ""
        if pair and (pair in vocabulary.values or pair in vocabulary.brands):
            word, skip = pair, 1
        if word in vocabulary.brands:
            brands.append(vocabulary.brands[word])
        elif word in vocabulary.values:
            key, value = vocabulary.values[word][0]
            attributes[key] = value
        elif word in vocabulary.keys and i + 1 < len(words):
            # "colour purple" / "size xl" where the catalog has the key but not the value
            value = words[i + 1]
            if value not in vocabulary.values:
                ignored.append(f"no product has {word} {value!r}")
                skip = 1
        elif word in COLOURS and vocabulary.keys & COLOUR_KEYS:
            ignored.append(f"no product has the colour {word!r}")
        elif word not in STOPWORDS and not word.isdigit() and len(word) > 1:
            query_terms.append(word)
    return brands, attributes, query_terms


def _price(pattern: re.Pattern[str], text: str) -> Decimal | None:
    match = pattern.search(text)
    return None if match is None else _amount(match.group(1))


def _amount(raw: str) -> Decimal | None:
    """A matched number (a decimal comma read as a point)."""
    try:
        return Decimal(raw.replace(",", "."))
    except InvalidOperation:
        return None
