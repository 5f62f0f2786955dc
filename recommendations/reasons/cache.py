"""The generation cache: one row per key in `Generation`, fronted by a per-process LRU.

Key: (purpose, template version, item, basis route, seed item, backend, model, and for a reason
the digest of the item's and seed's catalog facts it is written from) hashed. The
request path reads memory first, then the table for the rest (one query); it never generates. A
cached entry says whether its text is a model's (`generated`) or the grounded reason.
Counters (`stats`) and generation latencies (`latencies_ms`) are this process's own, for the
metrics exporter and the benchmarks.
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from typing import NamedTuple

from recommendations.reasons.models import Generation
from recsite.lru import LRU

MEMORY_ENTRIES = 50_000

stats: Counter[str] = Counter()
latencies_ms: deque[float] = deque(maxlen=10_000)


class Cached(NamedTuple):
    text: str
    # True: a model's output the guardrails accepted; False: the grounded reason (the grounded
    # backend's, or the one stored in place of a rejected output).
    generated: bool


_lock = threading.Lock()
_memory: LRU[str, Cached] = LRU(lambda: MEMORY_ENTRIES)
# Semantic seeds: (hash of the customer's recent items, product pk) → nearest history item.
_seeds: LRU[tuple[int, int], int] = LRU(lambda: MEMORY_ENTRIES)


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
    facts: str = "",
) -> str:
    raw = f"{purpose}|{version_id}|{product_pk}|{route}|{seed_pk}|{backend}|{model}|{extra}|{facts}"
    return hashlib.sha256(raw.encode()).hexdigest()


def memory_get_many(keys: Iterable[str]) -> dict[str, Cached]:
    with _lock:
        return _memory.get_many(keys)


def memory_put_many(entries: Mapping[str, Cached]) -> None:
    with _lock:
        _memory.put_many(entries)


def memory_clear() -> None:
    """Forget this process's cached texts and semantic seeds."""
    with _lock:
        _memory.clear()
        _seeds.clear()


def seeds_get_many(keys: Iterable[tuple[int, int]]) -> dict[tuple[int, int], int]:
    """(history hash, product pk) → the nearest history item, for the keys remembered."""
    with _lock:
        return _seeds.get_many(keys)


def seeds_put_many(seeds: Mapping[tuple[int, int], int]) -> None:
    with _lock:
        _seeds.put_many(seeds)


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
