"""API key services: keys are stored hashed, and `last_used_at` is written at most once a minute."""

import datetime as dt

import pytest
from django.utils import timezone

from accounts import services
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


def test_a_key_looked_up_is_kept_for_its_seconds(settings, monkeypatch, django_assert_num_queries):
    # given: a key found once
    settings.API_KEY_CACHE_SECONDS = 5
    api_key, raw_key = api_key_create(name="shop")
    clock = [1000.0]
    monkeypatch.setattr(services.time, "monotonic", lambda: clock[0])
    assert api_key_lookup(raw_key=raw_key) == api_key

    # when: another process revokes it (no signal reaches this one)
    ApiKey.objects.filter(pk=api_key.pk).update(revoked=True)

    # then: it serves from memory until its seconds are up, then is read again and refused
    clock[0] += 4.9
    with django_assert_num_queries(0):
        assert api_key_lookup(raw_key=raw_key) == api_key
    clock[0] += 0.2
    with django_assert_num_queries(1):
        assert api_key_lookup(raw_key=raw_key) is None


def test_a_key_revoked_or_edited_in_this_process_is_read_again_at_once(settings):
    settings.API_KEY_CACHE_SECONDS = 60
    api_key, raw_key = api_key_create(name="shop", scopes=["read:recommendations"])
    api_key_lookup(raw_key=raw_key)

    # edited (the admin saves the row): the new scopes apply
    api_key.scopes = ["write:events"]
    api_key.save()
    assert api_key_lookup(raw_key=raw_key).scopes == ["write:events"]

    # revoked
    api_key_revoke(api_key_id=api_key.pk)
    assert api_key_lookup(raw_key=raw_key) is None


def test_unknown_keys_and_a_zero_setting_are_never_kept(settings, django_assert_num_queries):
    _, raw_key = api_key_create(name="shop")
    with django_assert_num_queries(2):
        assert api_key_lookup(raw_key="rs_unknown") is None
        assert api_key_lookup(raw_key="rs_unknown") is None

    settings.API_KEY_CACHE_SECONDS = 0
    with django_assert_num_queries(2):
        api_key_lookup(raw_key=raw_key)
        api_key_lookup(raw_key=raw_key)
