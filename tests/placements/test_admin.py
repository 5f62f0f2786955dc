"""Default strategies in the admin: operators add versions and roll back; the history stays."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from placements import defaults
from placements.defaults import default_strategy, default_strategy_save
from placements.models import DefaultStrategy

pytestmark = pytest.mark.django_db

ADD = "admin:placements_defaultstrategy_add"
LIST = "admin:placements_defaultstrategy_changelist"


@pytest.fixture(autouse=True)
def fresh_defaults():
    defaults.default_strategies_forget()
    yield
    defaults.default_strategies_forget()


@pytest.fixture
def operator(client, django_user_model):
    user = django_user_model.objects.create_user("olga", password="pw-12345678", is_staff=True)
    user.groups.add(Group.objects.get(name="Operators"))
    client.force_login(user)
    return user


def _form(config: object, placement: str = "home_feed", note: str = "ranker won") -> dict[str, str]:
    return {"placement": placement, "config": json.dumps(config), "share": "100", "note": note}


def test_an_operator_adds_a_version_that_serves_at_once(client, operator):
    answer = client.post(reverse(ADD), _form({"routes": {"itemcf": 1, "popularity": 0.2}, "k": 8}))

    assert answer.status_code == 302
    stored = DefaultStrategy.objects.get()
    assert (stored.version, stored.created_by, stored.note) == (1, operator, "ranker won")
    assert default_strategy("home_feed").k == 8
    page = client.get(reverse(LIST)).content.decode()
    assert "itemcf 1, popularity 0.2" in page


def test_a_config_that_cannot_serve_is_refused_on_its_field(client, operator):
    answer = client.post(reverse(ADD), _form({"routes": {"itemcf": 1}, "ranker": "ghost"}))

    assert answer.status_code == 200
    assert "no active ranker named &#x27;ghost&#x27;" in answer.content.decode()
    assert not DefaultStrategy.objects.exists()


def test_rollback_of_one_selected_version(client, operator):
    first = default_strategy_save(placement="search", config={"routes": {"semantic": 1}, "k": 3})
    default_strategy_save(placement="search", config={"routes": {"semantic": 1}, "k": 9})

    answer = client.post(reverse(LIST), {"action": "rollback", "_selected_action": [first.pk]}, follow=True)

    assert [str(m) for m in answer.context["messages"]] == ["search now serves v3 (the strategy of v1)."]
    assert default_strategy("search").k == 3
    assert DefaultStrategy.objects.get(placement="search", version=3).created_by == operator


def test_versions_are_never_edited_or_deleted(client, operator):
    version = default_strategy_save(placement="home_feed", config={"routes": {"itemcf": 1}})

    change = client.post(reverse("admin:placements_defaultstrategy_change", args=[version.pk]), _form({"routes": {}}))
    delete = client.post(reverse("admin:placements_defaultstrategy_delete", args=[version.pk]), {"post": "yes"})

    assert change.status_code == 403
    assert delete.status_code == 403
    assert DefaultStrategy.objects.get().config == {"routes": {"itemcf": 1}}


def test_merchandisers_read_the_defaults_but_do_not_change_them(client, django_user_model):
    user = django_user_model.objects.create_user("mia", password="pw-12345678", is_staff=True)
    user.groups.add(Group.objects.get(name="Merchandisers"))
    client.force_login(user)

    assert client.get(reverse(LIST)).status_code == 200
    assert client.get(reverse(ADD)).status_code == 403
