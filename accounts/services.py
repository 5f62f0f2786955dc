"""API key lifecycle: create (returns the plain key once), authenticate, revoke."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from django.db.models import Q
from django.utils import timezone

from accounts.models import ApiKey
from recsite.scopes import Scope

KEY_PREFIX = "rs_"
# `last_used_at` is a hint for people auditing keys, not a log: one write a minute is enough.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


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
    """The active key matching `raw_key`, or None (unknown or revoked)."""
    return ApiKey.objects.filter(key_hash=hash_key(raw_key), revoked=False).first()


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


def api_keys_revoke_named(*, name: str) -> int:
    """Revoke every active key called `name`; returns how many."""
    return ApiKey.objects.filter(name=name, revoked=False).update(revoked=True)
