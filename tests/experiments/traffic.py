"""Synthetic experiment traffic for dashboard tests: exposures and attributed clicks in bulk."""

from __future__ import annotations

import datetime as dt
import uuid

import numpy as np

from catalog.models import Customer, Event, EventType, Product
from experiments import serving
from experiments.models import Experiment
from tests.factories import ProductFactory, make_experiment


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
