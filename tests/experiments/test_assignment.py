"""experiments.assignment: deterministic, weighted, traffic-limited."""

from __future__ import annotations

import hashlib

import pytest
from scipy import stats as sps

from experiments.assignment import assign, unit_hash, variant_for

WEIGHTS = [("control", 0.5), ("treatment", 0.5)]


def test_unit_hash_is_sha256_of_the_separated_fields():
    digest = hashlib.sha256(b"exp\x1fs1\x1fvariant\x1fC1").digest()
    expected = int.from_bytes(digest[:8], "big") / 2**64
    assert unit_hash(experiment_key="exp", salt="s1", customer_id="C1", purpose="variant") == expected


def test_assignment_is_sticky_and_depends_on_the_salt():
    # given one customer asked for many times
    first = [
        assign(experiment_key="e", salt="a", customer_id=f"C{i}", traffic_share=1.0, weights=WEIGHTS)
        for i in range(200)
    ]
    again = [
        assign(experiment_key="e", salt="a", customer_id=f"C{i}", traffic_share=1.0, weights=WEIGHTS)
        for i in range(200)
    ]
    resalted = [
        assign(experiment_key="e", salt="b", customer_id=f"C{i}", traffic_share=1.0, weights=WEIGHTS)
        for i in range(200)
    ]
    # then the same inputs give the same variant and a new salt reshuffles
    assert first == again
    assert first != resalted


@pytest.mark.parametrize(
    ("u", "expected"), [(0.0, "a"), (0.1999, "a"), (0.2, "b"), (0.6999, "b"), (0.7, "c"), (0.999999, "c")]
)
def test_variant_for_cuts_the_unit_interval_by_weight(u, expected):
    # weights 2:5:3 need not sum to one
    assert variant_for(u=u, weights=[("a", 2), ("b", 5), ("c", 3)]) == expected


def test_variant_for_refuses_no_positive_weight():
    with pytest.raises(ValueError):
        variant_for(u=0.5, weights=[("a", 0.0)])


def test_split_follows_weights_and_traffic_share():
    # given 20,000 customers, 40% traffic, weights 1:3
    counts = {"control": 0, "treatment": 0, None: 0}
    for i in range(20_000):
        counts[
            assign(
                experiment_key="feed",
                salt="x",
                customer_id=f"C{i}",
                traffic_share=0.4,
                weights=[("control", 1), ("treatment", 3)],
            )
        ] += 1
    # then the shares are within chance (chi-square p > 0.001) of 60% out, 10% control, 30% treatment
    observed = [counts[None], counts["control"], counts["treatment"]]
    assert sps.chisquare(observed, f_exp=[12_000, 2_000, 6_000]).pvalue > 0.001


def test_raising_traffic_share_keeps_everyone_in_their_variant():
    # given customers assigned at 20% traffic
    before = {
        f"C{i}": assign(experiment_key="e", salt="s", customer_id=f"C{i}", traffic_share=0.2, weights=WEIGHTS)
        for i in range(2000)
    }
    # when traffic rises to 60%
    after = {c: assign(experiment_key="e", salt="s", customer_id=c, traffic_share=0.6, weights=WEIGHTS) for c in before}
    # then everyone who was in stays in the same variant, and more customers join
    assert all(after[c] == v for c, v in before.items() if v is not None)
    assert sum(v is not None for v in after.values()) > sum(v is not None for v in before.values())
