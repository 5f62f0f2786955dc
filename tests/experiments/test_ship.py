"""Shipping a variant: its strategy becomes the placement's default and the experiment completes."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from experiments.models import Experiment, Status, Variant
from experiments.services import ExperimentError, variant_ship
from placements.defaults import default_strategies_forget, default_strategy
from placements.models import DefaultStrategy
from tests.factories import make_experiment

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_defaults():
    default_strategies_forget()
    yield
    default_strategies_forget()


def test_shipping_makes_the_variant_the_default_and_completes_the_experiment(admin_user):
    experiment = make_experiment(key="fused-wins")

    shipped = variant_ship(experiment_id=experiment.pk, variant_key="treatment", user=admin_user)

    assert (shipped.placement, shipped.version, shipped.created_by) == ("home_feed", 1, admin_user)
    assert shipped.note == "shipped from experiment fused-wins, variant treatment"
    assert default_strategy("home_feed").routes == {"itemcf": 1.0, "semantic": 0.5, "popularity": 0.1}
    experiment.refresh_from_db()
    assert experiment.status == Status.COMPLETED and experiment.stopped_at is not None


@pytest.mark.parametrize(
    ("status", "variant", "message"),
    [
        (Status.DRAFT, "treatment", "A draft experiment cannot ship a variant"),
        (Status.COMPLETED, "treatment", "A completed experiment cannot ship a variant"),
        (Status.RUNNING, "nope", "has no variant 'nope'"),
    ],
)
def test_what_cannot_ship_is_refused_and_nothing_changes(status, variant, message):
    experiment = make_experiment(launch=False)
    Experiment.objects.filter(pk=experiment.pk).update(status=status)

    with pytest.raises(ExperimentError, match=message):
        variant_ship(experiment_id=experiment.pk, variant_key=variant)
    assert not DefaultStrategy.objects.exists()
    assert Experiment.objects.get(pk=experiment.pk).status == status


def test_an_unknown_experiment_is_refused():
    with pytest.raises(ExperimentError, match="There is no experiment 999999"):
        variant_ship(experiment_id=999999, variant_key="treatment")


def test_a_variant_that_can_no_longer_serve_is_not_half_shipped():
    experiment = make_experiment()
    # Its ranker was deactivated since the launch: the default would name a ranker that is gone.
    Variant.objects.filter(experiment=experiment, key="treatment").update(
        config={"routes": {"itemcf": 1.0}, "ranker": "retired"}
    )

    with pytest.raises(ExperimentError, match="cannot serve as the default: no active ranker named 'retired'"):
        variant_ship(experiment_id=experiment.pk, variant_key="treatment")
    assert not DefaultStrategy.objects.exists()
    assert Experiment.objects.get(pk=experiment.pk).status == Status.RUNNING


def test_operators_ship_from_the_results_page_merchandisers_may_not(client, django_user_model):
    experiment = make_experiment()
    ship = reverse("admin:experiments_experiment_ship", args=[experiment.pk])
    merchandiser = django_user_model.objects.create_user("mia", password="pw-12345678", is_staff=True)
    merchandiser.groups.add(Group.objects.get(name="Merchandisers"))
    client.force_login(merchandiser)
    assert client.post(ship, {"variant": "treatment"}).status_code == 403

    operator = django_user_model.objects.create_user("olga", password="pw-12345678", is_staff=True)
    operator.groups.add(Group.objects.get(name="Operators"))
    client.force_login(operator)
    results = client.get(reverse("admin:experiments_experiment_results", args=[experiment.pk])).content.decode()
    answer = client.post(ship, {"variant": "treatment"})

    assert 'value="Ship treatment"' in results
    assert answer.status_code == 302
    assert answer["Location"].endswith("/admin/placements/defaultstrategy/?placement__exact=home_feed")
    assert DefaultStrategy.objects.get().created_by == operator


def test_shipping_through_a_gradual_rollout_serves_the_variant_to_its_share():
    make_experiment(key="careful")
    default_strategies_forget()

    shipped = variant_ship(experiment_id=Experiment.objects.get(key="careful").pk, variant_key="treatment", share=25)

    assert shipped.share == 25
    on_variant = sum(
        default_strategy("home_feed", f"c{i}").routes == {"itemcf": 1.0, "semantic": 0.5, "popularity": 0.1}
        for i in range(4000)
    )
    assert 0.21 < on_variant / 4000 < 0.29


@pytest.mark.parametrize("share", [-5, 150])
def test_a_rollout_share_outside_0_to_100_ships_nothing(share):
    experiment = make_experiment()

    with pytest.raises(ExperimentError, match="whole percent from 0 to 100"):
        variant_ship(experiment_id=experiment.pk, variant_key="treatment", share=share)
    assert not DefaultStrategy.objects.exists()
    assert Experiment.objects.get(pk=experiment.pk).status == Status.RUNNING


def test_the_results_page_ships_to_a_share(client, admin_user):
    experiment = make_experiment()
    client.force_login(admin_user)

    answer = client.post(
        reverse("admin:experiments_experiment_ship", args=[experiment.pk]),
        {"variant": "treatment", "share": "10"},
        follow=True,
    )

    assert "serves this strategy to 10% of customers (a gradual rollout)" in answer.content.decode()
    assert DefaultStrategy.objects.get().share == 10
