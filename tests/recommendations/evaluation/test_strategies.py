"""The strategies' scoring: the semantic route's candidates a tile of items at a time."""

import numpy as np
import pytest
import scipy.sparse as sp

from recommendations.evaluation import strategies
from recommendations.evaluation.strategies import (
    TrainedRoutes,
    route_candidates,
    route_scores,
    semantic_route_candidates,
)


def trained_semantic(rng: np.random.Generator, n_users: int, n_items: int) -> TrainedRoutes:
    """Random unit embeddings with exact ties (repeated vectors), items without an embedding, and
    a user without a vector."""
    items = rng.normal(size=(n_items, 8))
    items[5::7] = items[3]  # ties: the same score for several items
    items /= np.linalg.norm(items, axis=1, keepdims=True)
    has_embedding = rng.random(n_items) > 0.1
    items[~has_embedding] = 0.0
    users = rng.normal(size=(n_users, 8))
    users[2] = 0.0
    return TrainedRoutes(
        n_items=n_items,
        popularity=None,
        clock=np.full(n_users, np.nan),
        itemcf_history=sp.csr_matrix((n_users, n_items)),
        similarity=sp.csr_matrix((n_items, n_items)),
        user_vectors=users,
        item_embeddings=items,
        has_embedding=has_embedding,
        cf=None,
    )


@pytest.mark.parametrize("block_bytes", [8 * 6 * 7, 8 * 6 * 64, 2**20])
def test_tiles_give_the_candidates_of_the_whole_row(monkeypatch, block_bytes):
    # given: 6 users, 300 items, some seen; tiles of 7, 64 or every item (BLOCK_BYTES over 8 × users)
    rng = np.random.default_rng(3)
    trained = trained_semantic(rng, n_users=6, n_items=300)
    seen = sp.csr_matrix((rng.random((6, 300)) < 0.05).astype(np.float64))
    users = np.array([4, 0, 2, 5])
    monkeypatch.setattr(strategies, "BLOCK_BYTES", block_bytes)

    # when
    tiled = semantic_route_candidates(trained=trained, users=users, seen=seen, n=25)

    # then: what the dense users × items scores give, row by row
    dense = route_scores(trained=trained, route="semantic", users=users)
    rows, cols = seen[users].nonzero()
    dense[rows, cols] = -np.inf
    expected = [route_candidates(route="semantic", scores=dense[row], n=25) for row in range(len(users))]
    assert [[c.product_pk for c in found] for found in tiled] == [[c.product_pk for c in e] for e in expected]
    for found, wanted in zip(tiled, expected, strict=True):
        assert [c.score for c in found] == pytest.approx([c.score for c in wanted], abs=1e-12)
    assert tiled[2] == []  # the user without a vector
    assert not {c.product_pk for c in tiled[0]} & set(seen[4].indices)
