"""factory_boy factories for the catalog and accounts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import factory
from django.utils import timezone

from accounts.services import api_key_create
from catalog.models import Category, Customer, Event, EventType, Product
from catalog.text import product_text, text_hash


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category
        django_get_or_create = ("path",)

    name = factory.Sequence(lambda n: f"Category {n}")
    path = factory.LazyAttribute(lambda o: o.name)


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    external_id = factory.Sequence(lambda n: f"P{n:05d}")
    title = factory.Sequence(lambda n: f"Product {n}")
    description = ""
    price = "9.99"
    currency = "GBP"
    text_hash = factory.LazyAttribute(
        lambda o: text_hash(
            product_text(
                title=o.title,
                description=o.description,
                category_path=o.category.path if o.category else "",
                brand=o.brand,
                attributes=o.attributes,
            )
        )
    )
    brand = ""
    attributes = factory.LazyFunction(dict)
    category = None


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    external_id = factory.Sequence(lambda n: f"C{n:05d}")


class EventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Event

    event_id = factory.Sequence(lambda n: f"e{n}")
    customer = factory.SubFactory(CustomerFactory)
    product = factory.SubFactory(ProductFactory)
    type = EventType.PURCHASE
    timestamp = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(days=1))


def make_purchase_grid(
    *, customers: list[Customer], products: list[Product], each: int, when: Callable[[int], dt.datetime]
) -> None:
    """`each` purchases per customer, spread over the products in a fixed pattern (customer c's i-th
    is product (7c + i) mod n) at `when(i)`: bulk data for the memory-budget tests."""
    Event.objects.bulk_create(
        Event(
            event_id=f"e{c}-{i}",
            customer=customer,
            product=products[(c * 7 + i) % len(products)],
            type=EventType.PURCHASE,
            timestamp=when(i),
        )
        for c, customer in enumerate(customers)
        for i in range(each)
    )


def make_api_key(*, scopes: list[str] | None = None) -> str:
    """Create a key and return the plain key to send."""
    _, raw_key = api_key_create(name="test", scopes=scopes)
    return raw_key


class ExperimentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "experiments.Experiment"

    key = factory.Sequence(lambda n: f"exp-{n}")
    placement = "home_feed"
    salt = "salt"


class VariantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "experiments.Variant"

    experiment = factory.SubFactory(ExperimentFactory)
    key = factory.Sequence(lambda n: f"v{n}")
    weight = 1.0
    config = factory.LazyFunction(lambda: {"routes": {"popularity": 1.0}})


def make_experiment(*, key: str = "feed-test", placement: str = "home_feed", launch: bool = True, **fields):
    """A two-arm experiment: control (popularity only) against treatment (fused routes), 50/50."""
    from experiments.services import experiment_launch

    experiment = ExperimentFactory(key=key, placement=placement, **fields)
    VariantFactory(experiment=experiment, key="control", is_control=True)
    VariantFactory(
        experiment=experiment, key="treatment", config={"routes": {"itemcf": 1.0, "semantic": 0.5, "popularity": 0.1}}
    )
    if launch:
        experiment = experiment_launch(experiment_id=experiment.pk)
    return experiment


class MerchRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "recommendations.MerchRule"

    name = factory.Sequence(lambda n: f"rule {n}")
    kind = "boost"
    multiplier = 2.0


class ReasonAdapterFactory(factory.django.DjangoModelFactory):
    """A stored adapter version that passed its check; `path` must be given (a directory with an
    adapter_config.json for anything that activates it)."""

    class Meta:
        model = "recommendations.ReasonAdapter"

    version = factory.Sequence(lambda n: n + 1)
    base_model = "SmolLM2-135M-Instruct"
    state = "passed"
    examples = 90
    heldout_examples = 10
    steps = 100
    base_loss = 2.5
    adapter_loss = 1.5
    base_pass_rate = 0.6
    adapter_pass_rate = 0.8
    check_prompts = 10
    check_floor = 0.5
