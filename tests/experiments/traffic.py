"""Synthetic experiment traffic for dashboard tests: exposures and attributed clicks in bulk."""

from __future__ import annotations

import datetime as dt
import uuid

import numpy as np

from catalog.models import Customer, Event, EventType, Product
from experiments import serving
from experiments.models import Experiment, Kind
from experiments.services import experiment_launch
from tests.factories import (
    CustomerFactory,
    EventFactory,
    ExperimentFactory,
    ProductFactory,
    VariantFactory,
    make_experiment,
)


def traffic_generate(
    *,
    experiment: Experiment,
    customers: int,
    days: int,
    start: dt.datetime,
    ctr: dict[str, float],
    purchase: dict[str, float] | None = None,
    seed: int = 1,
) -> None:
    """Each customer sees one list a day (assigned by the real hash) and clicks its first item
    with their variant's probability; with `purchase`, also buys it (at the product's price) from
    that list with their variant's probability, independently of the click."""
    rng = np.random.default_rng(seed)
    product = Product.objects.first()
    ids = [f"T{i:05d}" for i in range(customers)]
    pks = {c.external_id: c.pk for c in Customer.objects.bulk_create([Customer(external_id=c) for c in ids])}
    rows, events = [], []
    for day in range(days):
        at = start + dt.timedelta(days=day, hours=1)
        for customer in ids:
            assignment = serving.experiment_assign(placement=experiment.placement, customer_id=customer)
            rec_id = uuid.uuid4()
            rows.append(
                (
                    rec_id,
                    assignment.experiment_id,
                    assignment.variant_id,
                    customer,
                    experiment.placement,
                    f'[{{"id": "{product.external_id}", "position": 1}}]',
                    at,
                )
            )
            if rng.random() < ctr[assignment.variant_key]:
                events.append(
                    Event(
                        event_id=f"click-{rec_id}",
                        customer_id=pks[customer],
                        product=product,
                        type=EventType.CLICK,
                        timestamp=at,
                        recommendation_id=rec_id,
                    )
                )
            if purchase is not None and rng.random() < purchase[assignment.variant_key]:
                events.append(
                    Event(
                        event_id=f"purchase-{rec_id}",
                        customer_id=pks[customer],
                        product=product,
                        type=EventType.PURCHASE,
                        timestamp=at,
                        recommendation_id=rec_id,
                    )
                )
    serving.exposures_write(rows)
    Event.objects.bulk_create(events)


def experiment_with_conversion_harm(
    *, start: dt.datetime, stop: bool, purchase: dict[str, float] | None = None, customers: int = 1500, days: int = 3
) -> Experiment:
    """A running experiment guarding conversion whose treatment buys far less (2% of lists
    against 10% by default): `days` of traffic from `start`, no snapshot yet."""
    ProductFactory(external_id="P1", price="12.00")
    experiment = make_experiment(
        key="feed-guarded",
        hypothesis="Fused recall raises click-through without hurting sales",
        guardrail_metrics=["conversion_rate", "revenue_per_customer"],
        guardrail_stop=stop,
    )
    Experiment.objects.filter(pk=experiment.pk).update(started_at=start)
    traffic_generate(
        experiment=experiment,
        customers=customers,
        days=days,
        start=start,
        ctr={"control": 0.05, "treatment": 0.08},
        purchase=purchase or {"control": 0.10, "treatment": 0.02},
    )
    experiment.refresh_from_db()
    return experiment


def interleaving_experiment(key: str = "inter") -> Experiment:
    """A launched interleaving experiment on the home feed: control against challenger."""
    experiment = ExperimentFactory(key=key, kind=Kind.INTERLEAVING)
    VariantFactory(experiment=experiment, key="control", is_control=True)
    VariantFactory(experiment=experiment, key="challenger", config={"routes": {"popularity": 1}, "rules": False})
    return experiment_launch(experiment_id=experiment.pk)


# The merged list every customer of `interleaving_case` gets: P0, P2 the control's, P1, P3 the challenger's.
INTERLEAVED_TEAMS = ["control", "challenger", "control", "challenger"]


def interleaved_list_log(customer: str, *, at: dt.datetime) -> uuid.UUID:
    """Log one merged list P0..P3 (teams INTERLEAVED_TEAMS) served to `customer`; returns its id."""
    rec_id = uuid.uuid4()
    serving.exposure_log(
        assignment=serving.experiment_assign(placement="home_feed", customer_id=customer),
        recommendation_id=rec_id,
        customer_id=customer,
        placement="home_feed",
        product_ids=[f"P{i}" for i in range(len(INTERLEAVED_TEAMS))],
        teams=INTERLEAVED_TEAMS,
        served_at=at,
    )
    return rec_id


def interleaving_case(*, now: dt.datetime) -> Experiment:
    """A running interleaving experiment with 70 customers: 48 prefer the challenger (one of them
    over two lists), 12 the control, 5 tie, 5 do not click; plus clicks that must not count
    (after `now`, on an item not in the list)."""
    products = {f"P{i}": ProductFactory(external_id=f"P{i}") for i in range(5)}
    experiment = interleaving_experiment()
    at = now - dt.timedelta(hours=1)

    def click(customer: Customer, product: str, rec_id: uuid.UUID, when: dt.datetime = at) -> None:
        EventFactory(
            customer=customer, product=products[product], type=EventType.CLICK, recommendation_id=rec_id, timestamp=when
        )

    for n in range(70):
        customer = CustomerFactory(external_id=f"C{n}")
        rec_id = interleaved_list_log(customer.external_id, at=at)
        if n < 47:
            click(customer, "P1", rec_id)
        elif n == 47:
            # the control credited in the first list, the challenger twice in a second: prefers the challenger
            click(customer, "P0", rec_id)
            second = interleaved_list_log(customer.external_id, at=at)
            click(customer, "P1", second)
            click(customer, "P3", second)
        elif n < 60:
            click(customer, "P2", rec_id)
            # not credited: P4 is not in the list; a click after `now` is not counted yet
            click(customer, "P4", rec_id)
            click(customer, "P1", rec_id, now + dt.timedelta(hours=1))
        elif n < 65:
            click(customer, "P0", rec_id)
            click(customer, "P3", rec_id)
    return experiment
