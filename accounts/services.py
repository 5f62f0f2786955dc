"""API key lifecycle: create (returns the plain key once), authenticate, revoke."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import time

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from accounts.models import ApiKey
from recsite.scopes import Scope

KEY_PREFIX = "rs_"
# `last_used_at` is a hint for people auditing keys, not a log: one write a minute is enough.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)
# Keys a process has looked up, by hash, for `API_KEY_CACHE_SECONDS`: the lookup was one query on
# every storefront request (docs/scale.md). Unknown keys are never kept (any string is a lookup);
# past this many the memory starts over.
KNOWN_KEYS_MAX = 1_000
_known: dict[str, tuple[float, ApiKey]] = {}


def hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def api_key_create(*, name: str, scopes: list[str] | None = None) -> tuple[ApiKey, str]:
    """Create a key; returns the stored row and the plain key (which is not stored)."""
    scopes = list(scopes) if scopes is not None else [s.value for s in Scope]
    unknown = sorted(set(scopes) - set(Scope.values))
    if unknown:
        raise ValueError(f"unknown scopes: {', '.join(unknown)}")
    raw_key = KEY_PREFIX + secrets.token_urlsafe(32)
    api_key = ApiKey.objects.create(name=name, prefix=raw_key[:10], key_hash=hash_key(raw_key), scopes=scopes)
    return api_key, raw_key


def api_key_lookup(*, raw_key: str) -> ApiKey | None:
    """The active key matching `raw_key`, or None (unknown or revoked). A key found is kept for
    `API_KEY_CACHE_SECONDS`: revoked or edited in another process, it serves (as it was) until
    then; in this one, `api_keys_forget` ends that at once."""
    key_hash = hash_key(raw_key)
    now = time.monotonic()
    known = _known.get(key_hash)
    if known is not None and known[0] > now:
        return known[1]
    api_key = ApiKey.objects.filter(key_hash=key_hash, revoked=False).first()
    if api_key is None or settings.API_KEY_CACHE_SECONDS <= 0:
        _known.pop(key_hash, None)
        return api_key
    if len(_known) >= KNOWN_KEYS_MAX:
        _known.clear()
    _known[key_hash] = (now + settings.API_KEY_CACHE_SECONDS, api_key)
    return api_key


def api_keys_forget(**kwargs: object) -> None:
    """Look every key up again (a key was revoked or edited here; also an `ApiKey` signal receiver)."""
    _known.clear()


def api_key_mark_used(*, api_key: ApiKey, now: dt.datetime | None = None) -> bool:
    """Record that the key was used, at most once per `LAST_USED_RESOLUTION`; True if written.

    The row was just read to authenticate, so a fresh `last_used_at` costs no query at all; a
    stale one costs one conditional UPDATE, which concurrent requests cannot both win.
    """
    now = now or timezone.now()
    cutoff = now - LAST_USED_RESOLUTION
    if api_key.last_used_at is not None and api_key.last_used_at > cutoff:
        return False
    stale = Q(last_used_at__isnull=True) | Q(last_used_at__lte=cutoff)
    written = ApiKey.objects.filter(stale, pk=api_key.pk).update(last_used_at=now)
    api_key.last_used_at = now
    return written == 1


def api_key_revoke(*, api_key_id: int) -> None:
    ApiKey.objects.filter(pk=api_key_id).update(revoked=True)
    api_keys_forget()


def api_keys_revoke_named(*, name: str) -> int:
    """Revoke every active key called `name`; returns how many."""
    revoked = ApiKey.objects.filter(name=name, revoked=False).update(revoked=True)
    api_keys_forget()
    return revoked
