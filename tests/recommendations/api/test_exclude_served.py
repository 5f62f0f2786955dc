"""`exclude_served=true` on the placements: what the session was served lately, on any placement,
is left out."""

import datetime as dt

import pytest
from django.utils import timezone

from catalog.models import ItemNeighbor
from recommendations.models import ServedList

FEED = "/api/v1/recommendations/"


def ids(response) -> list[str]:
    assert response.status_code == 200, response.json()
    return [item["id"] for item in response.json()["items"]]


def test_a_refreshed_feed_leaves_out_what_the_session_was_shown(storefront_client, merch_shop):
    params = {"session": "s1", "k": 2, "reasons": "false"}

    first = ids(storefront_client.get(FEED, params))
    again = ids(storefront_client.get(FEED, {**params, "exclude_served": "true"}))
    third = ids(storefront_client.get(FEED, {**params, "exclude_served": "true"}))
    without = ids(storefront_client.get(FEED, params))

    assert (first, again, third) == (["p1", "p2"], ["p3", "p4"], ["p5", "p6"])
    # without the option the list is the same as ever
    assert without == ["p1", "p2"]
    assert ServedList.objects.get(context__served_left_out=4).session_id == "s1"


def test_what_another_placement_served_is_left_out_and_another_sessions_lists_are_not(storefront_client, merch_shop):
    # given session s1 was shown p2 and p3 as items like p1, and s2 the feed's top two (p1, p2)
    for rank, name in enumerate(["p2", "p3"], start=1):
        ItemNeighbor.objects.create(product=merch_shop["p1"], neighbor=merch_shop[name], score=1.0 / rank, rank=rank)
    similar = ids(storefront_client.get("/api/v1/products/p1/similar/", {"session": "s1", "k": 2}))
    storefront_client.get(FEED, {"session": "s2", "k": 2, "reasons": "false"})

    # when s1 asks for its feed (popularity: p1 > p2 > ...) leaving out what it was served
    feed = ids(storefront_client.get(FEED, {"session": "s1", "k": 3, "reasons": "false", "exclude_served": "true"}))

    # then p2 and p3 are left out, and p1 (only s2 was shown it) is not
    assert similar == ["p2", "p3"]
    assert feed == ["p1", "p4", "p5"]


def test_lists_older_than_a_day_are_not_left_out(storefront_client, merch_shop):
    storefront_client.get(FEED, {"session": "s1", "k": 2, "reasons": "false"})
    ServedList.objects.update(created_at=timezone.now() - dt.timedelta(hours=25))

    assert ids(storefront_client.get(FEED, {"session": "s1", "k": 2, "exclude_served": "true"})) == ["p1", "p2"]


@pytest.mark.parametrize(
    ("url", "params"),
    [
        (FEED, {"customer": "alice"}),
        ("/api/v1/search/", {"q": "item"}),
        ("/api/v1/bought-together/", {"products": "p1"}),
        ("/api/v1/products/p1/similar/", {}),
    ],
)
def test_exclude_served_without_a_session_is_a_400_naming_it(storefront_client, merch_shop, url, params):
    response = storefront_client.get(url, {**params, "exclude_served": "true"})

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["exclude_served"]
