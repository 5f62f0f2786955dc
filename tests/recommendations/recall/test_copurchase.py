"""Co-purchase neighbours: baskets are one shopper's purchases of one UTC day; the stored table and
serving a cart from it."""

import datetime as dt

import numpy as np
import pytest

from catalog.models import EventType
from recommendations.history import History
from recommendations.models import CoPurchaseNeighbor
from recommendations.recall.copurchase import copurchase_candidates, copurchase_rebuild, copurchase_similarity
from tests.factories import CustomerFactory, EventFactory, ProductFactory

NOON = dt.datetime(2024, 3, 5, 12, 0, tzinfo=dt.UTC)


def test_similarity_counts_each_basket_once_and_prefers_the_pair_bought_together_more_often():
    # given: items 0 and 1 together in baskets 0 and 1 (item 1 twice in basket 0), 0 and 2 in basket 2
    baskets = np.array([0, 0, 0, 1, 1, 2, 2])
    items = np.array([0, 1, 1, 0, 1, 0, 2])

    # when
    similarity = copurchase_similarity(baskets=baskets, items=items, n_items=4, shrink=0.0).toarray()

    # then: item 0's neighbours are 1 before 2 and sum to 1; cosine 2/√(3·2) against 1/√(3·1)
    ab, ac = 2 / np.sqrt(6), 1 / np.sqrt(3)
    assert similarity[0].tolist() == pytest.approx([0.0, ab / (ab + ac), ac / (ab + ac), 0.0])
    assert similarity[1].tolist() == pytest.approx([1.0, 0.0, 0.0, 0.0])
    assert similarity[3].tolist() == [0.0, 0.0, 0.0, 0.0]


def test_similarity_of_no_purchases_is_empty():
    similarity = copurchase_similarity(
        baskets=np.array([], dtype=np.int64), items=np.array([], dtype=np.int64), n_items=3
    )

    assert similarity.shape == (3, 3)
    assert similarity.nnz == 0


@pytest.mark.django_db
def test_a_basket_is_one_customers_or_one_sessions_purchases_of_one_utc_day():
    # given: pasta and sauce bought by one customer on one day (late evening and morning, UTC);
    # cheese bought by the same customer the next day; wine and sauce bought by an anonymous
    # session on one day; soap viewed with pasta (a view is no purchase)
    pasta, sauce, cheese, wine, soap = (
        ProductFactory(external_id=name) for name in ("pasta", "sauce", "cheese", "wine", "soap")
    )
    shopper = CustomerFactory()
    EventFactory(customer=shopper, product=pasta, timestamp=NOON.replace(hour=0, minute=5))
    EventFactory(customer=shopper, product=sauce, timestamp=NOON.replace(hour=23, minute=55))
    EventFactory(customer=shopper, product=cheese, timestamp=NOON + dt.timedelta(days=1))
    EventFactory(customer=None, session_id="s-1", product=wine, timestamp=NOON)
    EventFactory(customer=None, session_id="s-1", product=sauce, timestamp=NOON + dt.timedelta(hours=1))
    EventFactory(customer=shopper, product=soap, type=EventType.VIEW, timestamp=NOON)

    # when
    rows = copurchase_rebuild()

    # then
    pairs = set(CoPurchaseNeighbor.objects.values_list("product__external_id", "neighbor__external_id"))
    assert pairs == {("pasta", "sauce"), ("sauce", "pasta"), ("sauce", "wine"), ("wine", "sauce")}
    assert rows == 4


@pytest.mark.django_db
def test_rebuilding_replaces_the_table():
    pasta, sauce = ProductFactory(), ProductFactory()
    shopper = CustomerFactory()
    for product in (pasta, sauce):
        EventFactory(customer=shopper, product=product, timestamp=NOON)
    copurchase_rebuild()
    sauce.events.all().delete()

    assert copurchase_rebuild() == 0
    assert not CoPurchaseNeighbor.objects.exists()


@pytest.mark.django_db
def test_a_cart_gets_the_summed_co_purchases_and_which_cart_items_have_any():
    # given: pasta → sauce 0.7, cheese 0.3; bread → cheese 1.0; soap has no co-purchases
    pasta, sauce, cheese, bread, soap = (ProductFactory() for _ in range(5))
    for product, neighbor, score, rank in [(pasta, sauce, 0.7, 1), (pasta, cheese, 0.3, 2), (bread, cheese, 1.0, 1)]:
        CoPurchaseNeighbor.objects.create(product=product, neighbor=neighbor, score=score, rank=rank)
    cart = History(product_pks=(pasta.pk, bread.pk, soap.pk), weights=(1.0, 1.0, 1.0))

    # when
    candidates, covered = copurchase_candidates(cart=cart, n=10)

    # then: cheese 0.3 + 1.0 from bread (its strongest seed), then sauce 0.7
    assert [(c.product_pk, c.score, c.seed_pk, c.route) for c in candidates] == [
        (cheese.pk, pytest.approx(1.3), bread.pk, "copurchase"),
        (sauce.pk, pytest.approx(0.7), pasta.pk, "copurchase"),
    ]
    assert covered == {pasta.pk, bread.pk}


@pytest.mark.django_db
def test_a_cart_without_co_purchases_gets_nothing():
    soap = ProductFactory()

    assert copurchase_candidates(cart=History(product_pks=(soap.pk,), weights=(1.0,)), n=10) == ([], frozenset())
