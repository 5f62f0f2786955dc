"""API key services: keys are stored hashed, and `last_used_at` is written at most once a minute."""

import datetime as dt

import pytest
from django.utils import timezone

from accounts.models import ApiKey
from accounts.services import api_key_create, api_key_lookup, api_key_mark_used, api_key_revoke, hash_key

pytestmark = pytest.mark.django_db


def test_only_the_hash_of_a_key_is_stored():
    api_key, raw_key = api_key_create(name="shop", scopes=["write:events"])

    stored = ApiKey.objects.get(pk=api_key.pk)
    assert stored.key_hash == hash_key(raw_key)
    assert raw_key not in {stored.key_hash, stored.prefix}
    assert stored.prefix == raw_key[:10]
    assert stored.scopes == ["write:events"]


def test_unknown_scopes_are_refused():
    with pytest.raises(ValueError, match="unknown scopes: admin"):
        api_key_create(name="shop", scopes=["admin"])


def test_a_revoked_key_is_not_found():
    api_key, raw_key = api_key_create(name="shop")
    api_key_revoke(api_key_id=api_key.pk)

    assert api_key_lookup(raw_key=raw_key) is None


def test_last_used_at_is_written_once_a_minute(django_assert_num_queries):
    # given: a key never used
    api_key, _ = api_key_create(name="shop")
    start = timezone.now()

    # when: used now, 30 s later and 61 s later
    with django_assert_num_queries(1):
        first = api_key_mark_used(api_key=api_key, now=start)
    with django_assert_num_queries(0):
        second = api_key_mark_used(api_key=api_key, now=start + dt.timedelta(seconds=30))
    third = api_key_mark_used(api_key=api_key, now=start + dt.timedelta(seconds=61))

    # then
    assert (first, second, third) == (True, False, True)
    assert ApiKey.objects.get(pk=api_key.pk).last_used_at == start + dt.timedelta(seconds=61)


def test_a_stale_copy_does_not_overwrite_a_newer_write():
    # given: another process marked the key used a moment ago; this one holds an old copy
    api_key, _ = api_key_create(name="shop")
    now = timezone.now()
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)

    written = api_key_mark_used(api_key=api_key, now=now + dt.timedelta(seconds=10))

    assert written is False
    assert ApiKey.objects.get(pk=api_key.pk).last_used_at == now


def test_authenticating_marks_the_key_used(storefront_client):
    storefront_client.get("/api/v1/products/")

    assert ApiKey.objects.get().last_used_at is not None
