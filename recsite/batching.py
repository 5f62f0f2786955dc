"""Lists of at most n items at a time from any iterable (Python 3.12's itertools.batched, as lists;
this project runs on 3.11)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import TypeVar

T = TypeVar("T")


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """`items` as consecutive lists of `size` (the last one shorter), consumed lazily."""
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk
