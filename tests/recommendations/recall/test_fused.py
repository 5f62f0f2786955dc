"""Fusion: weighted sum of max-normalised route scores."""

import pytest

from recommendations.contracts import Candidate
from recommendations.recall.fused import fuse


def cands(route, pairs):
    return [Candidate(product_pk=pk, route=route, score=s) for pk, s in pairs]


def test_fuse_normalises_each_route_by_its_best_and_weights_it():
    # given
    candidates = {
        "itemcf": cands("itemcf", [(1, 2.0), (2, 1.0)]),
        "semantic": cands("semantic", [(2, 0.8), (3, 0.4)]),
        "popularity": cands("popularity", [(4, 100.0)]),
    }

    # when
    fused = fuse(candidates=candidates, weights={"itemcf": 1.0, "semantic": 0.5, "popularity": 0.1})

    # then: 2 = 0.5 + 0.5×1.0; 1 = 1.0; 3 = 0.5×0.5; 4 = 0.1
    assert [(f.product_pk, f.score) for f in fused] == [(1, 1.0), (2, 1.0), (3, 0.25), (4, pytest.approx(0.1))]
    assert fused[1].routes == {"itemcf": 0.5, "semantic": 1.0}


def test_fuse_ignores_routes_without_weight_and_negative_scores():
    fused = fuse(
        candidates={"itemcf": cands("itemcf", [(1, 1.0)]), "semantic": cands("semantic", [(2, 0.5), (3, -0.5)])},
        weights={"semantic": 1.0},
    )

    assert [(f.product_pk, f.score) for f in fused] == [(2, 1.0), (3, 0.0)]
