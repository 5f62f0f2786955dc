"""Drift detection on stored embeddings and events: reference, check, history, admin warning."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from django.contrib.auth import get_user_model

from catalog.models import ProductEmbedding
from monitoring import distributions
from monitoring.distributions import Window, signals_measure
from monitoring.models import DriftReference, DriftReport, Signal
from monitoring.selectors import drift_latest
from monitoring.services import NoReference, drift_check, drift_check_recent, drift_reference_build
from tests.factories import CustomerFactory, EventFactory, ProductFactory, make_purchase_grid

pytestmark = pytest.mark.django_db

CUTOFF = dt.datetime(2011, 10, 1, tzinfo=dt.UTC)
END = dt.datetime(2012, 1, 1, tzinfo=dt.UTC)


def unit(*weights: float) -> list[float]:
    vector = np.zeros(384)
    vector[: len(weights)] = weights
    return (vector / np.linalg.norm(vector)).tolist()


@pytest.fixture
def shop():
    """Before the cutoff customers buy look-alike pairs; after it, unrelated ones, and p5 arrives."""
    vectors = {
        "p1": unit(1, 0, 0),
        "p2": unit(1, 0.0001, 0),
        "p3": unit(0, 1, 0),
        "p4": unit(0, 0, 1),
        "p5": unit(0, 1, 0.0001),
    }
    products = {}
    for external_id, vector in vectors.items():
        products[external_id] = ProductFactory(external_id=external_id)
        ProductEmbedding.objects.create(
            product=products[external_id], model_name="m", text_hash=products[external_id].text_hash, vector=vector
        )

    def bought(customer, product_id: str, when: dt.datetime) -> None:
        EventFactory(customer=customer, product=products[product_id], timestamp=when)

    before, after = CUTOFF - dt.timedelta(days=10), CUTOFF + dt.timedelta(days=10)
    for _ in range(2):
        customer = CustomerFactory()
        bought(customer, "p1", before)
        bought(customer, "p2", before)
    customer = CustomerFactory()
    bought(customer, "p3", before)
    bought(customer, "p4", before)
    for _ in range(2):
        customer = CustomerFactory()
        bought(customer, "p1", after)
        bought(customer, "p4", after)
    customer = CustomerFactory()
    bought(customer, "p3", after)
    bought(customer, "p5", after)
    return products


def test_the_reference_holds_each_signal_of_its_window(shop):
    reference = drift_reference_build(window_start=None, window_end=CUTOFF)

    samples = {signal: np.round(values, 4).tolist() for signal, values in reference.samples.items()}
    # two customers with a look-alike pair (cos 1, both ways), one with an orthogonal pair (cos 0)
    assert samples[Signal.CUSTOMER_ITEM] == [0.0, 0.0, 1.0, 1.0, 1.0, 1.0]
    # p1..p4 are first seen before the cutoff: nearest other item p2/p1 (≈1), p5 for p3 (≈1);
    # p4 is nearly alone (p5, 0.0001)
    assert samples[Signal.NEW_ITEM] == [0.0001, 1.0, 1.0, 1.0]
    assert len(samples[Signal.MEAN_EMBEDDING]) == 6
    assert np.allclose(reference.mean_embedding[:3], [4 / 6, 1 / 6, 1 / 6], atol=1e-3)


def test_a_check_after_the_cutoff_alerts_on_the_shifted_signals_and_keeps_the_history(shop):
    # given the reference before the cutoff
    reference = drift_reference_build(window_start=None, window_end=CUTOFF)
    # when the window after it is checked, twice
    drift_check(window_start=CUTOFF, window_end=END, threshold=0.2)
    reports = {r.signal: r for r in drift_check(window_start=CUTOFF, window_end=END, threshold=0.2)}
    # then customer-to-item similarity fell (unrelated pairs): PSI far above the threshold
    customer_item = reports[Signal.CUSTOMER_ITEM]
    assert (customer_item.n_reference, customer_item.n_current) == (6, 6)
    assert customer_item.alert is True
    assert customer_item.psi > 1.0
    # only p5 is new after the cutoff; its nearest item is p3
    assert reports[Signal.NEW_ITEM].n_current == 1
    assert reports[Signal.MEAN_EMBEDDING].mean_shift > 0
    assert all(r.reference_id == reference.pk for r in reports.values())
    # and both runs are kept; the newest per signal is what /metrics and the admin read
    assert DriftReport.objects.count() == 6
    assert {r.pk for r in drift_latest()} == {r.pk for r in reports.values()}


def test_a_check_without_a_reference_says_so_and_the_periodic_one_skips():
    with pytest.raises(NoReference):
        drift_check(window_start=CUTOFF, window_end=END)

    assert drift_check_recent() == []
    assert DriftReport.objects.count() == 0


def test_the_admin_warns_while_the_newest_report_is_above_threshold(shop, client):
    drift_reference_build(window_start=None, window_end=CUTOFF)
    drift_check(window_start=CUTOFF, window_end=END, threshold=0.2)
    staff = get_user_model().objects.create_superuser("ops", password="x" * 12)
    client.force_login(staff)

    response = client.get("/admin/monitoring/driftreport/")

    assert response.status_code == 200
    warnings = [str(m) for m in response.context["messages"]]
    assert any(w.startswith("Drift: customer-to-item similarity PSI") for w in warnings), warnings
    assert DriftReference.objects.count() == 1


def embeddings_load_before(*, product_pks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The drift job's loader before it read the items into one matrix (commit 25793a8)."""
    pks = np.unique(product_pks)
    rows = ProductEmbedding.objects.filter(product_id__in=pks.tolist()).values_list("product_id", "vector")
    by_pk = {pk: np.asarray(vector, dtype=np.float32) for pk, vector in rows}
    pks = np.asarray([pk for pk in pks.tolist() if pk in by_pk], dtype=np.int64)
    if not len(pks):
        return pks, np.zeros((0, 0), dtype=np.float32)
    matrix = np.stack([by_pk[pk] for pk in pks.tolist()])
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return pks, matrix / np.maximum(norms, np.finfo(np.float32).tiny)


@pytest.fixture
def random_shop():
    """60 customers buying 6 of 25 products with random vectors of any length, before and after the cutoff."""
    rng = np.random.default_rng(7)
    products = ProductFactory.create_batch(25)
    ProductEmbedding.objects.bulk_create(
        ProductEmbedding(product=p, model_name="m", text_hash=p.text_hash, vector=(rng.normal(size=384) * 3).tolist())
        for p in products
    )
    make_purchase_grid(
        customers=CustomerFactory.create_batch(60),
        products=products,
        each=6,
        when=lambda i: CUTOFF + dt.timedelta(days=-20 + 7 * i),
    )


def test_at_full_share_the_scores_are_those_of_the_loader_before(random_shop, monkeypatch):
    # given chunks of 7 rows, so that rows are normalised a chunk at a time across many boundaries
    monkeypatch.setattr(distributions, "ITEM_VECTORS_CHUNK", 7, raising=False)

    # when the window is measured, and a reference built and checked, by the loader now and before
    def run() -> tuple[dict, list, list]:
        measured = signals_measure(window=Window(start=None, end=END), seed=3)
        reference = drift_reference_build(window_start=None, window_end=CUTOFF, customer_share=1.0)
        reports = drift_check(window_start=CUTOFF, window_end=END, reference=reference, customer_share=1.0)
        scores = [(r.signal, r.psi, r.ks_statistic, r.ks_p_value, r.mean_shift, r.n_current) for r in reports]
        return (
            measured.samples | {"mean": measured.mean_embedding},
            [reference.samples, reference.mean_embedding],
            scores,
        )

    now = run()
    monkeypatch.setattr(distributions, "embeddings_load", embeddings_load_before)
    before = run()

    # then every sample, the reference and every score are exactly the same
    assert now[0].keys() == before[0].keys()
    assert all(np.array_equal(now[0][key], before[0][key]) for key in now[0])
    assert len(now[0][Signal.CUSTOMER_ITEM]) == 60 * 6
    assert now[1] == before[1]
    # (no product is new after the cutoff: two signals scored)
    assert now[2] == before[2] and len(now[2]) == 2
