"""The staff overview: what each box says and links to, the 30-day charts, who may see it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from monitoring import overview as overview_module
from monitoring.overview import overview
from tests.monitoring.overview_data import DAYS, overview_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(monkeypatch) -> None:
    overview_data()
    monkeypatch.setattr(overview_module, "workers_ping", lambda: ["celery@box"])
    monkeypatch.setattr(overview_module, "queue_lengths", lambda: {"default": 3, "gpu": 0})


def test_overview_cards_say_what_runs_and_what_needs_attention(shop):
    cards = {card.title: card for card in overview().cards}
    experiments = cards["Experiments"]
    assert experiments.status == "1 running, 0 paused"
    assert experiments.lines == ("fused-feed (home_feed): running, no snapshot yet",)
    assert experiments.url == "/admin/experiments/experiment/?status__exact=running"
    assert cards["Models serving now"].lines[0] == "Embeddings: all-MiniLM-L6-v2"
    assert cards["Models serving now"].lines[1] == "Rankers: none (recall order)"
    assert cards["Drift"].status == "DRIFT on 1 of 1 signals" and cards["Drift"].ok is False
    assert cards["Bad cases"].status == "3 open" and cards["Bad cases"].lines == ("2 new, 1 triaged",)
    workers = cards["Workers and queues"]
    assert workers.status == "1 worker answering" and workers.ok is True
    assert workers.lines == ("Queues: default 3 waiting, gpu 0 waiting", "Worker: celery@box")


def test_overview_charts_count_lists_and_rates_per_placement_and_day(shop):
    served, clicks, purchases = overview_module.placement_daily(since=timezone.now() - dt.timedelta(days=DAYS))
    assert {name: [n for _, n in points] for name, points in served.items()} == {
        "home_feed": [20] * DAYS,
        "similar": [10] * DAYS,
    }
    assert [n for _, n in clicks["home_feed"]] == [5] * DAYS
    assert [n for _, n in purchases["similar"]] == [0] * DAYS
    page = overview()
    assert page.traffic_svg.count('<polyline class="series"') == 2
    assert "90 lists served, 18 clicks and 3 purchases" in page.totals
    # click-through of the home feed: 5 clicks on 20 lists a day
    assert "25.0%" in page.ctr_svg


def test_no_worker_is_said_plainly(shop, monkeypatch):
    monkeypatch.setattr(overview_module, "workers_ping", lambda: [])
    monkeypatch.setattr(overview_module, "queue_lengths", lambda: {})
    card = overview_module.workers_card()
    assert (card.status, card.ok, card.lines) == ("NO WORKER ANSWERS", False, ("Queues: broker unreachable",))


@pytest.mark.parametrize("group", ["Operators", "Merchandisers"])
def test_staff_roles_see_the_overview_linked_from_the_admin_index(client, django_user_model, shop, group):
    user = django_user_model.objects.create_user("staff", password="pw-12345678", is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    client.force_login(user)
    assert 'href="/admin/overview/"' in client.get("/admin/").content.decode()
    page = client.get("/admin/overview/")
    assert page.status_code == 200
    assert "DRIFT on 1 of 1 signals" in page.content.decode()


def test_the_overview_is_not_for_customers_or_strangers(client, django_user_model):
    assert client.get("/admin/overview/").status_code == 302
    django_user_model.objects.create_user("shopper", password="pw-12345678")
    client.login(username="shopper", password="pw-12345678")
    assert client.get("/admin/overview/")["Location"].startswith("/admin/login/")
