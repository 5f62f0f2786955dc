"""Deterministic assignment, pure: the same customer always lands in the same variant, with no
stored state.

Two independent hashes: one decides whether a customer is in the experiment's traffic at all,
the other picks the variant. Raising the traffic share then only adds customers; nobody already
in the experiment changes variant (one hash for both would reshuffle everyone).

Layers make experiments mutually exclusive: a customer's place in a layer is one hash of the
layer and the customer; the layer's holdout is [0, holdout) and each experiment launched in the
layer owns a slice of the rest, fixed at launch, so a customer falls in at most one of them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

_SCALE = float(1 << 64)


def unit_hash(*, experiment_key: str, salt: str, customer_id: str, purpose: str) -> float:
    """A uniform number in [0, 1) from sha256 of the key, salt, purpose and customer id."""
    # \x1f (unit separator) cannot appear in keys typed into a form, so ("a", "bc") and
    # ("ab", "c") never hash alike.
    material = "\x1f".join((experiment_key, salt, purpose, customer_id)).encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.sha256(material).digest()[:8], "big") / _SCALE


def variant_for(*, u: float, weights: Sequence[tuple[str, float]]) -> str:
    """The variant whose cumulative-weight slice of [0, 1) holds `u` (weights need not sum to 1)."""
    total = sum(weight for _, weight in weights)
    if not weights or total <= 0:
        raise ValueError("need at least one variant with a positive weight")
    edge = 0.0
    for key, weight in weights:
        edge += weight / total
        if u < edge:
            return key
    # Float rounding can leave the last edge a hair under 1.
    return next(key for key, weight in reversed(weights) if weight > 0)


def assign(
    *, experiment_key: str, salt: str, customer_id: str, traffic_share: float, weights: Sequence[tuple[str, float]]
) -> str | None:
    """The customer's variant key, or None when they fall outside the experiment's traffic."""
    traffic = unit_hash(experiment_key=experiment_key, salt=salt, customer_id=customer_id, purpose="traffic")
    if traffic >= traffic_share:
        return None
    u = unit_hash(experiment_key=experiment_key, salt=salt, customer_id=customer_id, purpose="variant")
    return variant_for(u=u, weights=weights)


def layer_unit(*, layer: str, customer_id: str) -> float:
    """The customer's place in [0, 1) within `layer` (the same for every experiment of the layer)."""
    return unit_hash(experiment_key="\x1elayer", salt=layer, customer_id=customer_id, purpose="layer")


def slice_allocate(*, taken: Sequence[tuple[float, float]], width: float, low: float) -> tuple[float, float] | None:
    """The first free interval of `width` in [low, 1) beside the `taken` slices, or None."""
    start = low
    for taken_start, taken_end in sorted(taken):
        if taken_end <= start:
            continue
        if taken_start - start >= width - 1e-12:
            break
        start = max(start, taken_end)
    end = start + width
    return (start, min(end, 1.0)) if end <= 1.0 + 1e-12 else None


def assign_in_slice(
    *,
    experiment_key: str,
    salt: str,
    customer_id: str,
    place: float,
    start: float,
    end: float,
    weights: Sequence[tuple[str, float]],
) -> str | None:
    """The customer's variant when their place in the layer is inside the experiment's slice."""
    if not start <= place < end:
        return None
    u = unit_hash(experiment_key=experiment_key, salt=salt, customer_id=customer_id, purpose="variant")
    return variant_for(u=u, weights=weights)
