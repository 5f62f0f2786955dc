"""Checks on the admin's query parameters, so malformed input is a message or a 400, never a 500."""

from __future__ import annotations

from django.http import QueryDict

# The largest primary key PostgreSQL's bigint holds: a larger id fails the query itself.
MAX_ID = 2**63 - 1


def nul_params(params: QueryDict, names: tuple[str, ...] | None = None) -> list[str]:
    """The parameters (among `names`, default all) holding a NUL character: PostgreSQL text
    cannot, so a query that carries one fails."""
    return sorted(
        {name for name, values in params.lists() if names is None or name in names for v in values if "\x00" in v}
    )


def nul_message(names: list[str]) -> str:
    return f"{', '.join(names)}: must not contain a NUL character."


def id_param(value: str | None) -> int | None:
    """A positive row id from a query parameter, or None when it is not one."""
    try:
        number = int(value or "")
    except ValueError:
        return None
    return number if 0 < number <= MAX_ID else None


# Each pair renders and, with a model backend, generates: a handful keeps the page quick.
PREVIEW_PAIRS_MAX = 12


def preview_pairs(*, customers: str, products: str, purpose: str) -> list[tuple[str, str]]:
    """Every (customer, product) pair from two comma-separated lists; a rerank template orders a
    customer's candidates, so it takes customers only."""
    customer_ids = [c.strip() for c in customers.split(",") if c.strip()]
    product_ids = [p.strip() for p in products.split(",") if p.strip()] or [""]
    if purpose == "rerank":
        product_ids = [""]
    return [(c, p) for c in customer_ids for p in product_ids]


def k_param(value: str | None, *, maximum: int, default: int = 10) -> int:
    """A list length from a query parameter; ValueError with a message a person reads (never
    Python's own) when it is not a whole number from 1 to `maximum`."""
    text = (value or "").strip()
    if not text:
        return default
    if not text.isdigit() or not 1 <= int(text) <= maximum:
        raise ValueError(f"Number of items: enter a whole number from 1 to {maximum}, not {text[:20]!r}.")
    return int(text)
