"""Comparing a served list with a shadow's list."""

from __future__ import annotations

import uuid

import pytest

from recommendations.shadow.compare import lists_compare


def test_identical_lists_agree_fully():
    result = lists_compare(served=["a", "b", "c"], shadow=["a", "b", "c", "d"])
    assert (result.overlap_at_k, result.rank_correlation, result.served_positions) == (1.0, 1.0, [1, 2, 3])


def test_a_reversed_shadow_and_a_missing_item():
    result = lists_compare(served=["a", "b", "c", "x"], shadow=["c", "b", "a", "d"])

    assert result.overlap_at_k == 0.75
    assert result.rank_correlation == pytest.approx(-1.0)
    assert result.served_positions == [3, 2, 1, None]


def test_fewer_than_two_in_common_has_no_correlation():
    assert lists_compare(served=["a", "b"], shadow=["a", "z"]).rank_correlation is None
    assert lists_compare(served=[], shadow=["a"]).overlap_at_k == 0.0


def test_a_request_with_filters_survives_the_trip_to_the_worker():
    from decimal import Decimal

    from recommendations.contracts import ItemFilter, PlacementRequest, Recommendation
    from recommendations.shadow.offer import shadow_task_kwargs
    from recommendations.shadow.scoring import placement_request_from_json

    request = PlacementRequest(
        placement="search",
        customer_id="c1",
        query="mug",
        exclude=("a",),
        item_filter=ItemFilter(price_min=Decimal("9.50"), brands=("Acme",), attributes=(("color", ("red", "blue")),)),
    )
    sent = shadow_task_kwargs(
        shadow_id=1,
        request=request,
        recommendation=Recommendation(recommendation_id=uuid.uuid4(), strategy="s", items=()),
    )

    assert placement_request_from_json(sent["request"]) == request
