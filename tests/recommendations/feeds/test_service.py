"""Home feeds computed ahead: who gets them, and what their next request serves."""

import datetime as dt

import pytest
from django.core.management import CommandError, call_command

from catalog.models import Customer, EventType, ItemNeighbor
from experiments.models import Kind
from experiments.services import experiment_launch
from experiments.serving import running_experiments_forget
from placements.public import Placement
from recommendations.contracts import RecRequest
from recommendations.feeds.service import feeds_precompute, recently_active
from recommendations.feeds.tasks import events_arrived
from recommendations.pipeline import recommend
from recsite.celery import app
from tests.factories import (
    CustomerFactory,
    EventFactory,
    ExperimentFactory,
    ProductFactory,
    VariantFactory,
    make_api_key,
)

NOW = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)


@pytest.fixture
def shop(db):
    """alice (latest event now) and bob (a day before) bought `mug`, bob viewed `vase` before;
    item-CF: mug → teapot."""
    p = {name: ProductFactory(external_id=name) for name in ("mug", "teapot", "saucer", "lamp", "vase")}
    for name, latest in (("alice", NOW), ("bob", NOW - dt.timedelta(days=1))):
        EventFactory(
            customer=CustomerFactory(external_id=name), product=p["mug"], type=EventType.PURCHASE, timestamp=latest
        )
    EventFactory(
        customer=Customer.objects.get(external_id="bob"), product=p["vase"], timestamp=NOW - dt.timedelta(days=2)
    )
    ItemNeighbor.objects.create(product=p["mug"], neighbor=p["teapot"], score=0.6, rank=1)
    return p


def home(customer_id: str) -> list[str]:
    return [item.product_id for item in recommend(request=RecRequest(customer_id=customer_id)).items]


def neighbours_changed_unannounced(shop) -> None:
    """Change item-CF's table behind the version's back: only candidates kept before still say teapot."""
    ItemNeighbor.objects.filter(product=shop["mug"]).update(neighbor=shop["saucer"])


def test_the_most_recently_active_come_first(shop):
    assert recently_active(limit=1) == ["alice"]
    assert recently_active(limit=5) == ["alice", "bob"]
    assert recently_active(limit=0) == []


def test_the_next_request_serves_what_was_computed_ahead(shop):
    report = feeds_precompute(customer_ids=["alice"])
    neighbours_changed_unannounced(shop)

    assert (report.customers, report.entries) == (1, 1)
    assert home("alice")[0] == "teapot"
    # bob's were not computed ahead: his request asks the routes.
    assert home("bob")[0] == "saucer"


def test_an_interleaving_experiment_gets_both_teams_candidates(shop):
    experiment = ExperimentFactory(key="inter", placement=Placement.HOME_FEED, kind=Kind.INTERLEAVING)
    VariantFactory(experiment=experiment, key="control", is_control=True, config={"routes": {"itemcf": 1}})
    VariantFactory(experiment=experiment, key="challenger", config={"routes": {"itemcf": 1, "popularity": 0.1}})
    experiment_launch(experiment_id=experiment.pk)
    running_experiments_forget()
    try:
        assert feeds_precompute(customer_ids=["alice"]).entries == 2
    finally:
        running_experiments_forget()


def test_events_from_the_api_have_their_customers_feeds_computed(shop, django_capture_on_commit_callbacks, client):
    app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                "/api/v1/events/",
                [{"customer": "bob", "product": "lamp", "type": "view", "timestamp": "2024-03-01T01:00:00Z"}],
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Api-Key {make_api_key()}",
            )
    finally:
        app.conf.task_always_eager = False
    neighbours_changed_unannounced(shop)

    assert response.status_code == 201
    assert home("bob")[0] == "teapot"


def test_a_bulk_of_customers_is_left_to_the_command(db, settings, django_capture_on_commit_callbacks):
    settings.RECALL_AHEAD_EVENT_CUSTOMERS = 2

    with django_capture_on_commit_callbacks() as callbacks:
        assert events_arrived(customer_ids=["a", "b"]) is True
        assert events_arrived(customer_ids=["a", "b", "c"]) is False
    settings.RECALL_AHEAD_SECONDS = 0
    assert events_arrived(customer_ids=["a"]) is False

    assert len(callbacks) == 1


def test_the_command_computes_the_active_customers_feeds(shop, capsys):
    call_command("precompute_feeds", "--customers", "5")
    neighbours_changed_unannounced(shop)

    assert "2 customers, 2 entries kept" in capsys.readouterr().out
    assert home("alice")[0] == home("bob")[0] == "teapot"


def test_the_command_refuses_when_turned_off_or_asked_nonsense(db, settings):
    with pytest.raises(CommandError, match="must not be negative"):
        call_command("precompute_feeds", "--customers", "-1")
    settings.RECALL_AHEAD_SECONDS = 0
    with pytest.raises(CommandError, match="turned off"):
        call_command("precompute_feeds")
