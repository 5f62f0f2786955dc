"""Which fine-tuned adapter the local model writes reasons with: a per-process snapshot of the
active `ReasonAdapter`, at most CACHE_SECONDS old, so the request path (which needs its version
for the cache keys) asks the database at most that often, and a worker follows an activation or a
rollback within that time."""

from __future__ import annotations

from recommendations.reasons.backends import ServedAdapter
from recommendations.reasons.models import AdapterState, ReasonAdapter
from recsite.snapshot import CachedSnapshot

CACHE_SECONDS = 5.0


def adapter_active() -> ServedAdapter | None:
    """The active adapter, None when the base model serves alone."""
    return _active.get()


def adapter_active_forget() -> None:
    """Drop the snapshot (after an activation or rollback in this process)."""
    _active.forget()


def _load() -> ServedAdapter | None:
    row = ReasonAdapter.objects.filter(state=AdapterState.ACTIVE).only("version", "base_model", "path").first()
    return None if row is None else row.served()


_active: CachedSnapshot[ServedAdapter | None] = CachedSnapshot(_load, max_age=CACHE_SECONDS)
