"""A bounded map that drops its least recently used entries first, for what a process keeps.

Not locked: each owner holds its own lock, which may have to cover more than the map (the kept
answers' covers the catalog generation they were read under). The bound is read at every insert,
so a setting changed at run time (or by a test) applies at the next one.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LRU(Generic[K, V]):
    def __init__(self, bound: Callable[[], int]) -> None:
        self._bound = bound
        self._entries: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        """The entry of `key` (now the most recently used), None when there is none."""
        value = self._entries.get(key)
        if value is not None:
            self._entries.move_to_end(key)
        return value

    def get_many(self, keys: Iterable[K]) -> dict[K, V]:
        return {key: value for key in keys if (value := self.get(key)) is not None}

    def put(self, key: K, value: V) -> None:
        self.put_many({key: value})

    def put_many(self, entries: Mapping[K, V]) -> None:
        for key, value in entries.items():
            self._entries[key] = value
            self._entries.move_to_end(key)
        bound = max(self._bound(), 0)
        while len(self._entries) > bound:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
