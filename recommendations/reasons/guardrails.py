"""Guardrails on both sides of a model.

In: catalog text that enters a prompt is sanitised (no control characters, no template or chat
markup, no sentences that address the model) and length-limited, so a product description cannot
inject instructions. Out: a generated reason is checked — length, no product or brand that is not
the item or in the customer's history, no price that differs from the catalog — and what fails is
replaced by the grounded reason (and becomes a bad case, see `generation`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

# Characters of catalog text a prompt receives per field.
FIELD_MAX_CHARS = {"title": 120, "description": 300, "brand": 60, "category": 120}
REASON_MIN_CHARS = 8
REASON_MAX_CHARS = 160

_MARKUP = re.compile(
    r"\{\{|\}\}|\{%|%\}|\{#|#\}|<\|[^|>]*\|>|\[/?INST\]|<</?SYS>>|```|<\s*/?\s*(system|user|assistant)\s*>", re.I
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
# Invisible characters, removed rather than spaced so they cannot split a word the injection check
# looks for ("Ig<zero-width space>nore"): Unicode's format characters (zero-width, bidi controls,
# soft hyphen, and the tag characters that can spell out a hidden instruction) and variation selectors.
_INVISIBLE = re.compile(
    "[\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\ufe00-\ufe0f\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e01ef]"
)
# A sentence that speaks to the model rather than describing a product.
_INJECTION = re.compile(
    r"(ignore|disregard|forget|override)\b[^.!?\n]{0,40}\b(instruction|prompt|rule|above|previous|system)"
    r"|\b(system|assistant|user)\s*:"
    r"|\byou are (now|an? )"
    r"|\b(new|updated) instructions?\b"
    r"|\b(respond|reply|answer|say|write|output)\b[^.!?\n]{0,30}\b(only|instead|exactly)\b",
    re.I,
)
_SENTENCES = re.compile(r"[^.!?\n]+[.!?]*")
_PRICE = re.compile(
    r"(?:[£$€]\s?|\b(?:GBP|USD|EUR)\s?)(\d+(?:[.,]\d{1,2})?)|(\d+(?:[.,]\d{1,2})?)\s?(?:GBP|USD|EUR)\b|\b(\d+[.,]\d{2})\b",
    re.I,
)
# Quotes open after a space or the start and close before a space, punctuation or the end, so the
# apostrophes of "I'm" and "it's" are not taken for quotes.
_QUOTED = re.compile(r"(?:^|(?<=[\s(]))[\"“‘']([^\"“”‘’]{4,}?)[\"”’'](?=$|[\s.,;:!?)])")
# Two or more capitalised words in a row name something ("Scotty Dog Design").
_NAME = re.compile(r"\b[A-Z][a-z'\-]+(?:\s+(?:&\s+|and\s+|of\s+)?[A-Z][a-z'\-]+)+")
_NUMBER = re.compile(r"\b\d+(?:[.,]\d+)?\b")
_UPPER_WORD = re.compile(r"\b[A-Z][A-Z\-]{3,}\b")
_URL = re.compile(r"https?://|www\.|\S+@\S+\.\w+", re.I)
_PROMPT_ECHO = re.compile(r"^(product|fact|sentence|facts)\s*:|\bsentence\s*:", re.I)


def prompt_text_sanitize(text: str | None, *, max_chars: int = 200) -> str:
    """Catalog text made safe to put in a prompt: invisible characters removed, normalised (NFKC:
    full-width letters and braces become plain ones), markup and instruction-like sentences removed,
    whitespace collapsed, cut at a word boundary to at most `max_chars` characters."""
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", _INVISIBLE.sub("", str(text)))
    text = _CONTROL.sub(" ", text)
    text = _MARKUP.sub(" ", text)
    kept = [s for s in _SENTENCES.findall(text) if not _INJECTION.search(s)]
    text = " ".join(" ".join(kept).split())
    if len(text) > max_chars:
        cut = text[: max_chars + 1].rsplit(" ", 1)[0] if " " in text[:max_chars] else text[:max_chars]
        text = cut[:max_chars].rstrip(" ,;:-")
    return text


@dataclass(frozen=True)
class ProductFacts:
    """What a reason may name about one product (sanitised catalog text)."""

    id: str
    title: str
    brand: str = ""
    price: str = ""
    currency: str = ""
    description: str = ""
    category: str = ""

    def as_variables(self) -> dict[str, str]:
        return {
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "brand": self.brand,
            "category": self.category,
            "price": self.price,
            "currency": self.currency,
        }


@dataclass(frozen=True)
class Verdict:
    ok: bool
    # The failed check: empty, too_long, unfinished, prompt_echo, link, unknown_product, unknown_brand,
    # wrong_price, unknown_number.
    code: str = ""
    detail: str = ""


def reason_clean(output: str) -> str:
    """A model's raw output as a candidate reason: its first non-empty line, unquoted, cut after its
    last complete sentence (a reply cut off by the token limit loses its unfinished tail)."""
    for line in output.splitlines():
        line = line.strip().strip("\"'“”").strip()
        if line:
            ends = [m.end() for m in re.finditer(r"[.!?](?=\s|$)", line)]
            return line[: ends[-1]] if ends else line
    return ""


def reason_check(
    *, text: str, item: ProductFacts, history: Sequence[ProductFacts] = (), brands: Iterable[str] = ()
) -> Verdict:
    """Check a generated reason against the item, the customer's history and the catalog's brands."""
    allowed = (item, *history)
    for check in (_shape_verdict(text), _names_verdict(text, allowed, brands), _price_verdict(text, item, allowed)):
        if not check.ok:
            return check
    return Verdict(True)


def _shape_verdict(text: str) -> Verdict:
    if len(text) < REASON_MIN_CHARS:
        return Verdict(False, "empty", f"{len(text)} characters")
    if len(text) > REASON_MAX_CHARS:
        return Verdict(False, "too_long", f"{len(text)} characters, at most {REASON_MAX_CHARS}")
    if _PROMPT_ECHO.search(text) or _MARKUP.search(text):
        return Verdict(False, "prompt_echo", "repeats the prompt's markup")
    if _URL.search(text):
        return Verdict(False, "link", "contains a link or address")
    if text[-1] not in ".!?":
        return Verdict(False, "unfinished", "does not end a sentence")
    return Verdict(True)


def _names_verdict(text: str, allowed: Sequence[ProductFacts], brands: Iterable[str]) -> Verdict:
    """Quoted names and upper-case words must come from the allowed products; brands too."""
    allowed_text = " ".join(f"{p.title} {p.brand} {p.description} {p.category}" for p in allowed).lower()
    allowed_words = set(re.findall(r"[a-z0-9\-]+", allowed_text))
    for phrase in _QUOTED.findall(text):
        if phrase.strip().lower() not in allowed_text:
            return Verdict(False, "unknown_product", f"names {phrase.strip()!r}")
    for word in _UPPER_WORD.findall(text):
        if word.lower() not in allowed_words:
            return Verdict(False, "unknown_product", f"names {word!r}")
    for name in _NAME.findall(text):
        words = name.split()
        # A sentence may start with a capital: judge the name without its first word then.
        at_start = text.startswith(name) or re.search(rf"[.!?]\s+{re.escape(name)}", text)
        phrase = " ".join(words[1:] if at_start else words).lower()
        if len(phrase.split()) >= 2 and phrase not in allowed_text:
            return Verdict(False, "unknown_product", f"names {name!r}")
    allowed_brands = {p.brand.lower() for p in allowed if p.brand}
    lowered = text.lower()
    for brand in brands:
        brand_l = brand.lower()
        if len(brand_l) >= 3 and brand_l not in allowed_brands and re.search(rf"\b{re.escape(brand_l)}\b", lowered):
            return Verdict(False, "unknown_brand", f"names the brand {brand!r}")
    return Verdict(True)


def _price_verdict(text: str, item: ProductFacts, allowed: Sequence[ProductFacts]) -> Verdict:
    """Prices must be catalog prices; other numbers must come from the products' own text."""
    prices = {_decimal(p.price) for p in allowed if p.price}
    for match in _PRICE.finditer(text):
        value = _decimal(match.group(1) or match.group(2) or match.group(3))
        if value is None or value not in prices:
            return Verdict(False, "wrong_price", f"says {match.group(0).strip()!r}, the catalog says {item.price}")
    rest = _PRICE.sub(" ", text)
    allowed_numbers = set(_NUMBER.findall(" ".join(f"{p.title} {p.description}" for p in allowed)))
    for number in _NUMBER.findall(rest):
        if number not in allowed_numbers:
            return Verdict(False, "unknown_number", f"says {number!r}, which no product's text does")
    return Verdict(True)


def _decimal(value: str | None) -> Decimal | None:
    try:
        return Decimal(str(value).replace(",", ".")).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        return None
