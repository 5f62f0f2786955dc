"""Fusion: weighted sum of max-normalised route scores."""

import pytest

from recommendations.contracts import Candidate, FusedItem, fused_pks
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


def fuse_one_at_a_time(candidates, weights):
    """Weighted CombSUM written out item by item: what `fuse` must equal, to the last bit."""
    scores, routes, seeds = {}, {}, {}
    for route, found in candidates.items():
        weight = weights.get(route, 0.0)
        if weight <= 0 or not found:
            continue
        best = max(c.score for c in found)
        for c in found:
            normalised = max(c.score, 0.0) / best if best > 0 else 0.0
            scores[c.product_pk] = scores.get(c.product_pk, 0.0) + weight * normalised
            routes.setdefault(c.product_pk, {})[route] = normalised
            if c.seed_pk is not None:
                seeds.setdefault(c.product_pk, {})[route] = c.seed_pk
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
    return [(pk, score, routes[pk], seeds.get(pk, {})) for pk, score in ranked]


@pytest.mark.parametrize("seed", range(20))
def test_fuse_equals_the_item_by_item_sum_exactly(seed):
    import random

    rng = random.Random(seed)
    names = ["itemcf", "cf", "semantic", "popularity", "context"]
    candidates = {
        name: [
            Candidate(
                product_pk=rng.randrange(1, 60),  # overlaps between routes, and repeats within one
                route=name,
                score=rng.choice([rng.random(), rng.uniform(-1, 0), 0.5, 1 / 3]),
                seed_pk=rng.choice([None, rng.randrange(1, 60)]),
            )
            for _ in range(rng.randrange(0, 40))
        ]
        for name in rng.sample(names, rng.randrange(1, len(names) + 1))
    }
    weights = {name: rng.choice([0.0, 0.1, 0.5, 1.0, 1.2]) for name in names}

    fused = fuse(candidates=candidates, weights=weights)

    assert [(f.product_pk, f.score, f.routes, f.seeds) for f in fused] == fuse_one_at_a_time(candidates, weights)


def test_a_fused_list_reads_like_the_list_of_its_items():
    # given
    fused = fuse(
        candidates={
            "itemcf": [Candidate(product_pk=pk, route="itemcf", score=1 / pk, seed_pk=100 + pk) for pk in range(1, 9)],
            "semantic": cands("semantic", [(4, 0.9), (9, 0.8), (2, 0.1)]),
        },
        weights={"itemcf": 1.0, "semantic": 0.5},
    )
    items = list(fused)

    # then: indexing, slicing and the pks agree with the items, built one by one
    assert len(fused) == len(items) == 9
    assert fused_pks(fused) == [item.product_pk for item in items]
    assert fused[0] == items[0] and fused[-1] == items[-1]
    assert fused[2:5] == items[2:5] and fused[::-3] == items[::-3]
    assert fused == items
    with pytest.raises(IndexError):
        fused[9]
    assert items[fused_pks(fused).index(4)].routes == {"itemcf": 0.25, "semantic": 1.0}
    assert items[fused_pks(fused).index(4)].seeds == {"itemcf": 104}


def test_fused_pks_of_a_plain_list():
    items = [FusedItem(product_pk=3, score=1.0, routes={}), FusedItem(product_pk=1, score=0.5, routes={})]

    assert fused_pks(items) == [3, 1]
