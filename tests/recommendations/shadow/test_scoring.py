"""A shadow strategy scores sampled served requests on a worker and the admin reads the comparison."""

from __future__ import annotations

import time
import uuid

import pytest
from celery import Celery
from django.contrib.auth.models import Group
from django.utils import timezone

from catalog.models import EventType, ItemPopularity
from recommendations.contracts import PlacementRequest, Recommendation, ScoredItem
from recommendations.recall import popularity
from recommendations.shadow.models import ShadowList, ShadowStrategy
from recommendations.shadow.offer import SCORE_TASK, shadow_offer, shadow_sampled, shadow_task_kwargs, shadows_forget
from recommendations.shadow.scoring import shadow_report, shadow_score
from tests.factories import CustomerFactory, EventFactory, ProductFactory
from tests.processes import celery_worker

REQUEST = {"placement": "home_feed", "customer_id": "c1", "k": 3}


@pytest.fixture
def popular_shop(db):
    products = [ProductFactory(external_id=f"p{i}") for i in range(1, 7)]
    for i, product in enumerate(products):
        ItemPopularity.objects.create(product=product, score=10.0 - i, computed_at=timezone.now())
    # Popularity's top list is cached per process: another test's would name other products.
    popularity._cache.clear()
    shadows_forget()
    yield products
    shadows_forget()
    popularity._cache.clear()


def test_the_sample_is_a_stable_share_of_lists():
    ids = [str(uuid.UUID(int=i)) for i in range(4000)]
    sampled = [i for i in ids if shadow_sampled(recommendation_id=i, share=0.25)]

    assert 0.22 < len(sampled) / len(ids) < 0.28
    assert sampled == [i for i in ids if shadow_sampled(recommendation_id=i, share=0.25)]


def test_a_shadow_list_is_made_compared_and_counted_with_clicks(popular_shop):
    shadow = ShadowStrategy.objects.create(
        placement="home_feed", config={"routes": {"popularity": 1.0}}, sample_share=1
    )
    served_id = uuid.uuid4()

    row = shadow_score(
        shadow_id=shadow.pk, request=REQUEST, recommendation_id=str(served_id), served=["p2", "p1", "p9"]
    )
    EventFactory(
        customer=CustomerFactory(external_id="c1"),
        product=popular_shop[0],
        type=EventType.CLICK,
        recommendation_id=served_id,
    )

    assert row.shadow_items == ["p1", "p2", "p3"]
    assert (row.overlap_at_k, row.served_positions) == (2 / 3, [2, 1, None])
    assert row.rank_correlation == pytest.approx(-1.0)
    report = shadow_report(shadow_id=shadow.pk)
    assert (report.lists, report.clicks, report.clicks_shadow_held) == (1, 1, 1.0)
    # The same served list twice is kept once.
    shadow_score(shadow_id=shadow.pk, request=REQUEST, recommendation_id=str(served_id), served=["p2"])
    assert ShadowList.objects.count() == 1


def test_a_sampled_list_is_offered_and_an_unsampled_one_is_not(popular_shop):
    ShadowStrategy.objects.create(placement="home_feed", config={"routes": {"popularity": 1.0}}, sample_share=0.5)
    shadows_forget()
    request = PlacementRequest(placement="home_feed", customer_id="c1", k=3)
    lists = [
        Recommendation(recommendation_id=uuid.UUID(int=i), strategy="fused", items=_items("p1")) for i in range(40)
    ]

    offered = [shadow_offer(request=request, recommendation=r) for r in lists]

    expected = [shadow_sampled(recommendation_id=str(r.recommendation_id), share=0.5) for r in lists]
    assert offered == expected and 0 < sum(offered) < 40
    assert not shadow_offer(request=PlacementRequest(placement="search", customer_id="c1"), recommendation=lists[0])


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_scores_what_the_request_path_sends(redis_url, tmp_path):
    # given a shadow on the home feed and a served list, sent as the request path sends it
    popularity._cache.clear()
    for i in range(1, 7):
        ItemPopularity.objects.create(
            product=ProductFactory(external_id=f"p{i}"), score=10.0 - i, computed_at=timezone.now()
        )
    shadow = ShadowStrategy.objects.create(
        placement="home_feed", config={"routes": {"popularity": 1.0}, "k": 2}, sample_share=1
    )
    served = Recommendation(recommendation_id=uuid.uuid4(), strategy="fused", items=_items("p3", "p1", "p2"))
    kwargs = shadow_task_kwargs(
        shadow_id=shadow.pk,
        request=PlacementRequest(placement="home_feed", customer_id="c9", k=3),
        recommendation=served,
    )
    queue = f"shadow-{uuid.uuid4().hex[:8]}"
    client = Celery("recsite-test-client", broker=redis_url, backend=redis_url)
    try:
        with celery_worker(queue=queue, redis_url=redis_url, log=tmp_path / "worker.log"):
            # when a worker takes the task by its name
            client.send_task(SCORE_TASK, kwargs=kwargs, queue=queue)
            deadline = time.time() + 60
            while not ShadowList.objects.exists() and time.time() < deadline:
                time.sleep(0.5)
    finally:
        with client.connection_for_write() as broker:
            broker.default_channel.queue_delete(queue)

    # then the shadow's list sits beside the served one, compared
    row = ShadowList.objects.get()
    assert (row.recommendation_id, row.served, row.shadow_items) == (
        served.recommendation_id,
        ["p3", "p1", "p2"],
        ["p1", "p2"],
    )
    assert row.served_positions == [None, 1, 2]


def _items(*ids: str) -> tuple[ScoredItem, ...]:
    return tuple(ScoredItem(product_pk=0, product_id=i, title=i, score=1.0, routes={}) for i in ids)


def test_operators_read_the_comparison_in_the_admin(client, django_user_model, popular_shop):
    shadow = ShadowStrategy.objects.create(
        placement="home_feed", config={"routes": {"popularity": 1.0}}, sample_share=1
    )
    shadow_score(shadow_id=shadow.pk, request=REQUEST, recommendation_id=str(uuid.uuid4()), served=["p1", "p2", "p3"])
    user = django_user_model.objects.create_superuser("ops", "ops@example.com", "pw-12345678")
    client.force_login(user)

    listing = client.get("/admin/recommendations/shadowstrategy/").content.decode()
    refused = client.post(
        "/admin/recommendations/shadowstrategy/add/",
        {"placement": "search", "config": '{"routes": {"nope": 1}}', "sample_share": "0.1", "is_active": "on"},
    )

    assert "1.00" in listing  # mean overlap@k of the one list
    assert "unknown route" in refused.content.decode()
    assert Group.objects.filter(name="Operators").exists()
