"""create_api_key: prints a new key; --replace revokes the earlier keys of that name."""

from io import StringIO

import pytest
from django.core.management import call_command

from accounts.models import ApiKey
from accounts.services import api_key_lookup

pytestmark = pytest.mark.django_db


def _create(*args: str) -> str:
    out = StringIO()
    call_command("create_api_key", *args, stdout=out)
    return out.getvalue().strip()


def test_replace_leaves_one_valid_key_of_the_name():
    other = _create("other-shop")
    first = _create("demo-storefront")
    second = _create("--replace", "demo-storefront")

    assert api_key_lookup(raw_key=first) is None
    assert api_key_lookup(raw_key=second) is not None
    assert api_key_lookup(raw_key=other) is not None
    assert ApiKey.objects.filter(name="demo-storefront", revoked=False).count() == 1


def test_without_replace_keys_add_up():
    _create("demo-storefront")
    _create("demo-storefront")

    assert ApiKey.objects.filter(name="demo-storefront", revoked=False).count() == 2
