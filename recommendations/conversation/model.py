"""The language-model turn parser: the configured reasons backend (recommendations.reasons) turns
a shopper's sentence into the same changes the rule parser makes, as JSON, and the output is
validated against the catalog's real fields before anything is applied.

An OpenAI-compatible endpoint is called from the request (its client bounds the wait and opens a
circuit on a dead endpoint); the shipped local model answers on a worker (the queue
CONVERSATION_MODEL_QUEUE, `gpu` by default), which the request waits on for
CONVERSATION_MODEL_TIMEOUT_S. No model configured, no answer in time,
or output that does not validate raises `ModelParseFailed` with the reason; the service then
answers with the rule parser and says why.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from celery.exceptions import TimeoutError as CeleryTimeout
from django.conf import settings
from kombu.exceptions import OperationalError

from recommendations.conversation.changes import PRICE_DOWN, PRICE_UP, ConversationState, TurnChanges
from recommendations.conversation.rules import Vocabulary, amounts, singular, words
from recommendations.conversation.tasks import parse_turn
from recommendations.reasons.backend_choice import backend_current, backend_identity
from recommendations.reasons.backends import GROUNDED, TRANSFORMERS
from recsite.celery import app as celery_app

MAX_NEW_TOKENS = 160
# What the prompt shows the model of the catalog (the validation checks against all of it).
PROMPT_BRANDS = 30
PROMPT_VALUES = 60
_OBJECT = re.compile(r"\{.*\}", re.DOTALL)
KEYS = frozenset({"add_query", "price", "price_max", "price_min", "brands", "attributes", "exclude", "reset"})

PROMPT = """Turn a shopper's request about a product list into one JSON object with the keys
add_query (words of the request to search for), price ("cheaper", "pricier" or null), price_max,
price_min (numbers from the request, or null), brands (brand names from the request),
attributes (attribute: value), exclude (words of products to leave out), reset (true or false).
Use only these brands: {brands}.
Use only these attribute values: {values}.
The list so far: {state}.
{examples}
Request: {text}
JSON:"""
# Worked examples rather than a schema: a small model copies a schema's placeholders back.
EXAMPLES = (
    ("something with stars", {"add_query": "stars"}),
    ("a bit cheaper, no cushions", {"price": "cheaper", "exclude": ["cushion"]}),
    ("between 2 and 8", {"price_min": 2, "price_max": 8}),
)
EMPTY_ANSWER = {
    "add_query": "",
    "price": None,
    "price_max": None,
    "price_min": None,
    "brands": [],
    "attributes": {},
    "exclude": [],
    "reset": False,
}


def _examples() -> str:
    return "".join(f"\nRequest: {request}\nJSON: {json.dumps(EMPTY_ANSWER | answer)}\n" for request, answer in EXAMPLES)


class ModelParseFailed(Exception):
    """The model did not answer, or its answer does not validate; the message says which."""


def model_parse(*, text: str, vocabulary: Vocabulary, state: ConversationState) -> TurnChanges:
    """The changes the configured language model reads in `text`, validated."""
    name, _ = backend_identity()
    if name == GROUNDED:
        raise ModelParseFailed("no language model is configured (REASON_BACKEND=grounded)")
    prompt = model_prompt(text=text, vocabulary=vocabulary, state=state)
    if name == TRANSFORMERS:
        output = _on_worker(prompt)
    else:
        [generated] = backend_current().generate(prompts=[prompt], max_new_tokens=MAX_NEW_TOKENS)
        if generated.failure:
            raise ModelParseFailed(f"the model endpoint failed ({generated.failure})")
        output = generated.text
    return model_output_parse(output=output, vocabulary=vocabulary, text=text)


def _on_worker(prompt: str) -> str:
    try:
        # Sent and awaited through the project's own app, not whichever app is current: its broker
        # and result backend are the ones the workers use.
        result = celery_app.send_task(
            parse_turn.name,
            kwargs={"prompt": prompt, "max_new_tokens": MAX_NEW_TOKENS},
            queue=settings.CONVERSATION_MODEL_QUEUE,
            retry=False,
        )
        return result.get(timeout=settings.CONVERSATION_MODEL_TIMEOUT_S)
    except CeleryTimeout as exc:
        raise ModelParseFailed(
            f"the local model gave no answer in {settings.CONVERSATION_MODEL_TIMEOUT_S:g} s"
        ) from exc
    except OperationalError as exc:
        raise ModelParseFailed("the task broker is unreachable") from exc


def model_prompt(*, text: str, vocabulary: Vocabulary, state: ConversationState) -> str:
    brands = ", ".join(sorted(vocabulary.brands.values())[:PROMPT_BRANDS]) or "(none)"
    values = (
        ", ".join(
            f"{key}={value}" for pairs in list(vocabulary.values.values())[:PROMPT_VALUES] for key, value in pairs
        )
        or "(none)"
    )
    return PROMPT.format(
        brands=brands, values=values, state=json.dumps(state.as_json()), examples=_examples(), text=text
    )


def model_output_parse(*, output: str, vocabulary: Vocabulary, text: str) -> TurnChanges:
    """The changes in the model's JSON for the shopper's `text`; raises ModelParseFailed when it is
    not JSON of the asked shape, names a brand or attribute value the catalog does not have, or is
    not grounded in `text` (a word, brand, value or number the shopper did not write: a small
    model copies its examples, and a changed list the shopper never asked for is worse than the
    rule parser's reading)."""
    match = _OBJECT.search(output or "")
    if match is None:
        raise ModelParseFailed("the model's answer holds no JSON object")
    try:
        data = json.loads(match.group(0))
    except json.JSONDecodeError as exc:
        raise ModelParseFailed(f"the model's JSON does not parse ({exc.msg})") from exc
    if not isinstance(data, dict) or set(data) - KEYS:
        raise ModelParseFailed(f"the model's JSON has unknown keys: {', '.join(sorted(set(data) - KEYS))}")
    price = data.get("price")
    if price not in (None, "cheaper", "pricier"):
        raise ModelParseFailed(f"price {price!r} is not cheaper, pricier or null")
    changes = TurnChanges(
        query_terms=tuple(_words(data.get("add_query"), "add_query")),
        price_direction={"cheaper": PRICE_DOWN, "pricier": PRICE_UP}.get(price or ""),
        price_min=_amount(data.get("price_min"), "price_min"),
        price_max=_amount(data.get("price_max"), "price_max"),
        brands=tuple(_brand(name, vocabulary) for name in _strings(data.get("brands"), "brands")),
        attributes=tuple(_attribute(key, value, vocabulary) for key, value in _pairs(data.get("attributes"))),
        exclude_terms=tuple(singular(w.lower()) for w in _strings(data.get("exclude"), "exclude")),
        reset=data.get("reset") is True,
    )
    _grounded(changes, text=text)
    return changes


def _grounded(changes: TurnChanges, *, text: str) -> None:
    """Raises ModelParseFailed naming the first part of `changes` the shopper did not write (words
    and amounts read from `text` as the rule parser reads them; a plural matches its singular)."""
    said = {form for word in words(text.lower()) for form in (word, singular(word))}
    written = amounts(text.lower())
    parts = [
        *(("add_query", word) for word in changes.query_terms),
        *(("exclude", word) for word in changes.exclude_terms),
        *(("brands", word) for brand in changes.brands for word in words(brand.lower())),
        *(("attributes", word) for _, value in changes.attributes for word in words(value.lower())),
    ]
    for field, part in parts:
        if part not in said and singular(part) not in said:
            raise ModelParseFailed(f"{field} {part!r} is not in the shopper's words")
    for field, amount in (("price_min", changes.price_min), ("price_max", changes.price_max)):
        if amount is not None and amount not in written:
            raise ModelParseFailed(f"{field} {amount} is not a number the shopper wrote")


def _words(value: Any, field: str) -> list[str]:
    if value in (None, ""):
        return []
    if not isinstance(value, str):
        raise ModelParseFailed(f"{field} is not text")
    return [w for w in words(value.lower()) if len(w) > 1]


def _strings(value: Any, field: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ModelParseFailed(f"{field} is not a list of text")
    return [v.strip() for v in value if v.strip()]


def _pairs(value: Any) -> list[tuple[str, str]]:
    if value is None:
        return []
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ModelParseFailed("attributes is not an object of text values")
    return list(value.items())


def _amount(value: Any, field: str) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ModelParseFailed(f"{field} is not a number")
    try:
        amount = Decimal(str(value))
    except InvalidOperation as exc:
        raise ModelParseFailed(f"{field} is not a number") from exc
    if not amount.is_finite() or amount < 0:
        raise ModelParseFailed(f"{field} is not a price")
    return amount


def _brand(name: str, vocabulary: Vocabulary) -> str:
    brand = vocabulary.brands.get(name.lower())
    if brand is None:
        raise ModelParseFailed(f"no product has the brand {name!r}")
    return brand


def _attribute(key: str, value: str, vocabulary: Vocabulary) -> tuple[str, str]:
    for known_key, known_value in vocabulary.values.get(value.lower(), ()):
        if known_key.lower() == key.lower():
            return known_key, known_value
    raise ModelParseFailed(f"no product has {key} {value!r}")
