"""The collaborative route: EASE and ALS weights, versions stored and activated, served in the feed."""

import datetime as dt

import numpy as np
import pytest
import scipy.sparse as sp
from django.conf import settings

from catalog.models import Event
from placements.public import Strategy
from recommendations.contracts import RecRequest
from recommendations.models import CollaborativeModel, CollaborativeNeighbor
from recommendations.pipeline import recommend
from recommendations.recall import collaborative, popularity
from recommendations.recall.collaborative import ALS, EASE, cf_algorithm, cf_fit, collaborative_rebuild
from tests.factories import CustomerFactory, EventFactory, ProductFactory

# Items A=0, B=1, C=2, D=3: A and B are bought together by most customers, C with A once, D alone.
BASKETS = [(0, 1), (0, 1), (0, 1), (0, 1), (0, 2), (3,), (1, 0)]


def basket_matrix() -> sp.csr_matrix:
    rows = [(user, item) for user, basket in enumerate(BASKETS) for item in basket]
    users, items = zip(*rows, strict=True)
    return sp.csr_matrix((np.ones(len(rows)), (users, items)), shape=(len(BASKETS), 4))


def test_ease_weights_match_the_closed_form():
    # given the binary matrix X and the penalty the rule picks (max(10, mean item count) = 10)
    x = basket_matrix().toarray()
    gram = x.T @ x + 10.0 * np.eye(4)
    precision = np.linalg.inv(gram)
    expected = -precision / np.diag(precision)[None, :]
    np.fill_diagonal(expected, 0.0)

    # when EASE is fitted keeping every neighbour
    fit = cf_fit(matrix=basket_matrix(), algorithm=EASE, n_neighbors=4)

    # then the positive weights are Steck's B, and A's strongest neighbour is B
    dense = fit.neighbors.toarray()
    assert dense == pytest.approx(np.where(expected > 0, expected, 0.0), abs=1e-5)
    assert int(np.argmax(dense[0])) == 1
    assert fit.params["lambda"] == 10.0


def test_the_learner_is_chosen_by_the_memory_its_dense_matrices_take():
    # two float32 items × items matrices: 20k items take 3.2 GB
    assert cf_algorithm(n_items=20_000, memory_budget=4 * 2**30) == EASE
    assert cf_algorithm(n_items=40_000, memory_budget=4 * 2**30) == ALS


def test_als_neighbours_are_items_with_similar_factors():
    fit = cf_fit(matrix=basket_matrix(), algorithm=ALS, n_neighbors=2)
    assert fit.algorithm == ALS and fit.device in ("cpu", "cuda")
    # each row holds at most two positive neighbours, never the item itself
    dense = fit.neighbors.toarray()
    assert (np.count_nonzero(dense, axis=1) <= 2).all() and not np.diag(dense).any()


def test_als_draws_neighbours_from_the_most_interacted_items_only(monkeypatch):
    # given room for two candidates: A (6 customers) and B (5) are the most interacted
    monkeypatch.setattr(collaborative, "ALS_NEIGHBOR_CANDIDATES", 2)

    fit = cf_fit(matrix=basket_matrix(), algorithm=ALS, n_neighbors=3)

    # then every item touched gets neighbours among A and B only; D and C are nobody's neighbour
    dense = fit.neighbors.toarray()
    assert fit.candidates.tolist() == [0, 1] and fit.rows.tolist() == [0, 1, 2, 3]
    assert not dense[:, 2:].any() and not np.diag(dense).any()
    assert fit.params["neighbor_candidates"] == 2


def test_blocks_of_one_row_give_the_same_neighbours(monkeypatch):
    whole = cf_fit(matrix=basket_matrix(), algorithm=EASE, n_neighbors=2).neighbors.toarray()
    monkeypatch.setattr(collaborative, "BLOCK_BYTES", 1)

    fit = cf_fit(matrix=basket_matrix(), algorithm=EASE, n_neighbors=2)

    assert len(list(fit.blocks())) == 4
    np.testing.assert_allclose(fit.neighbors.toarray(), whole)


@pytest.fixture
def shop(db):
    products = [ProductFactory(external_id=name) for name in "ABCD"]
    for basket in BASKETS:
        customer = CustomerFactory()
        for item in basket:
            EventFactory(customer=customer, product=products[item], type="purchase")
    collaborative.reset()
    popularity._cache.clear()
    yield products
    collaborative.reset()


def test_a_rebuild_stores_a_new_served_version_and_the_feed_uses_it(shop):
    a, b, c, d = shop
    # given a customer who bought C only
    buyer = CustomerFactory(external_id="c-buyer")
    EventFactory(customer=buyer, product=c, type="purchase")

    # when the route is rebuilt twice
    first = collaborative_rebuild()
    second = collaborative_rebuild()

    # then two versions exist, only the later one active, each with its own neighbour rows
    assert [(m.version, m.is_active) for m in CollaborativeModel.objects.order_by("version")] == [
        (1, False),
        (2, True),
    ]
    assert first.algorithm == EASE and first.neighbor_rows > 0
    assert CollaborativeNeighbor.objects.filter(model=second).count() == second.neighbor_rows

    # and a strategy with the collaborative route alone recommends C's co-buyer A first
    feed = recommend(request=RecRequest(customer_id="c-buyer", k=2), strategy=Strategy(routes={"cf": 1.0}))
    assert feed.items[0].product_id == "A"
    assert feed.items[0].routes.keys() == {"cf"}


def test_a_rebuild_until_a_time_is_fitted_on_the_events_before_it(shop):
    # given the shop's purchases, then later a basket of C and D
    later = Event.objects.order_by("-timestamp").values_list("timestamp", flat=True).first() + dt.timedelta(days=1)
    customer = CustomerFactory()
    for product in (shop[2], shop[3]):
        EventFactory(customer=customer, product=product, type="purchase", timestamp=later)

    # when the route is fitted up to that basket
    model = collaborative_rebuild(until=later)

    # then it knows only the earlier events, and C and D are not neighbours
    assert model.events == sum(len(basket) for basket in BASKETS)
    pairs = set(CollaborativeNeighbor.objects.filter(model=model).values_list("product_id", "neighbor_id"))
    assert (shop[2].pk, shop[3].pk) not in pairs and (shop[3].pk, shop[2].pk) not in pairs
    assert pairs


def test_without_an_active_version_the_route_proposes_nothing(shop):
    from recommendations.history import History

    assert collaborative.cf_candidates(history=History(product_pks=(shop[2].pk,), weights=(1.0,)), n=5) == []


def test_the_task_is_routed_to_the_gpu_queue_and_scheduled_with_the_neighbours():
    assert settings.CELERY_TASK_ROUTES["recommendations.tasks.build_collaborative"] == {"queue": "gpu"}
    schedule = settings.CELERY_BEAT_SCHEDULE
    assert schedule["build-collaborative"]["schedule"] == schedule["build-neighbors"]["schedule"]


def test_the_in_place_inverse_matches_numpy_across_row_blocks():
    from recommendations.recall.collaborative import BLOCK_ROWS, symmetric_inverse

    # given a symmetric positive definite matrix larger than two row blocks
    n = 2 * BLOCK_ROWS + 300
    factors = np.random.default_rng(0).normal(size=(n, n // 4)).astype(np.float32)
    matrix = factors @ factors.T + n * np.eye(n, dtype=np.float32)
    expected = np.linalg.inv(matrix.astype(np.float64))

    inverse = symmetric_inverse(matrix.copy())

    np.testing.assert_allclose(inverse, expected, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(inverse, inverse.T)
