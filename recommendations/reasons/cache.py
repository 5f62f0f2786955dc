"""The generation cache: one row per key in `Generation`, fronted by a per-process LRU.

Key: (purpose, template version, item, basis route, seed item, backend, model) hashed. The
request path reads memory first, then the table for the rest (one query); it never generates. A
cached entry says whether its text is a model's (`generated`) or the grounded reason.
Counters (`stats`) and generation latencies (`latencies_ms`) are this process's own, for the
metrics exporter and the benchmarks.
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter, OrderedDict, deque
from collections.abc import Iterable, Mapping
from typing import NamedTuple

from recommendations.reasons.models import Generation

MEMORY_ENTRIES = 50_000

stats: Counter[str] = Counter()
latencies_ms: deque[float] = deque(maxlen=10_000)


class Cached(NamedTuple):
    text: str
    # True: a model's output the guardrails accepted; False: the grounded reason (the grounded
    # backend's, or the one stored in place of a rejected output).
    generated: bool


_lock = threading.Lock()
_memory: OrderedDict[str, Cached] = OrderedDict()
# Semantic seeds: (hash of the customer's recent items, product pk) → nearest history item.
_seeds: OrderedDict[tuple[int, int], int] = OrderedDict()


def cache_key(
    *,
    purpose: str,
    version_id: int,
    product_pk: int | None,
    route: str,
    seed_pk: int | None,
    backend: str,
    model: str,
    extra: str = "",
) -> str:
    raw = f"{purpose}|{version_id}|{product_pk}|{route}|{seed_pk}|{backend}|{model}|{extra}"
    return hashlib.sha256(raw.encode()).hexdigest()


def memory_get_many(keys: Iterable[str]) -> dict[str, Cached]:
    found = {}
    with _lock:
        for key in keys:
            entry = _memory.get(key)
            if entry is not None:
                _memory.move_to_end(key)
                found[key] = entry
    return found


def memory_put_many(entries: Mapping[str, Cached]) -> None:
    with _lock:
        _memory.update(entries)
        for key in entries:
            _memory.move_to_end(key)
        while len(_memory) > MEMORY_ENTRIES:
            _memory.popitem(last=False)


def memory_clear() -> None:
    """Forget this process's cached texts and semantic seeds."""
    with _lock:
        _memory.clear()
        _seeds.clear()


def seeds_get_many(keys: Iterable[tuple[int, int]]) -> dict[tuple[int, int], int]:
    """(history hash, product pk) → the nearest history item, for the keys remembered."""
    with _lock:
        return {key: _seeds[key] for key in keys if key in _seeds}


def seeds_put_many(seeds: Mapping[tuple[int, int], int]) -> None:
    with _lock:
        _seeds.update(seeds)
        while len(_seeds) > MEMORY_ENTRIES:
            _seeds.popitem(last=False)


def cache_get_many(*, keys: Iterable[str]) -> dict[str, Cached]:
    """key → cached entry for the keys that have one: memory, then one query for the rest."""
    keys = list(dict.fromkeys(keys))
    found = memory_get_many(keys)
    stats["memory_hits"] += len(found)
    missing = [key for key in keys if key not in found]
    if missing:
        stored = {
            key: Cached(text, accepted)
            for key, text, accepted in Generation.objects.filter(key__in=missing).values_list("key", "text", "accepted")
        }
        stats["db_hits"] += len(stored)
        stats["misses"] += len(missing) - len(stored)
        memory_put_many(stored)
        found.update(stored)
    return found


def cache_hit_rate() -> float | None:
    """Share of this process's lookups answered from the cache (None before the first)."""
    hits = stats["memory_hits"] + stats["db_hits"]
    total = hits + stats["misses"]
    return hits / total if total else None


def reasons_metrics_snapshot() -> dict[str, float | int | None]:
    """This process's counters, hit rate and generation latency percentiles (for an exporter)."""
    ordered = sorted(latencies_ms)

    def pct(p: float) -> float | None:
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else None

    return {**stats, "hit_rate": cache_hit_rate(), "generation_ms_p50": pct(50), "generation_ms_p99": pct(99)}
