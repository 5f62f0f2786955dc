"""Two lists for one request, compared: pure functions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from scipy.stats import kendalltau


@dataclass(frozen=True)
class ListComparison:
    overlap_at_k: float
    rank_correlation: float | None
    served_positions: list[int | None]


def lists_compare(*, served: Sequence[str], shadow: Sequence[str]) -> ListComparison:
    """Overlap of the shadow's top len(served) with the served list, Kendall's tau over the items
    both hold, and where each served item sits in the shadow list (1-based; None when absent)."""
    k = len(served)
    position = {item: rank for rank, item in enumerate(shadow, start=1)}
    overlap = len(set(served) & set(shadow[:k])) / k if k else 0.0
    common = [item for item in served if item in position]
    tau = None
    if len(common) >= 2:
        statistic = kendalltau(range(len(common)), [position[item] for item in common]).statistic
        tau = None if statistic != statistic else float(statistic)  # NaN: all tied
    return ListComparison(
        overlap_at_k=overlap, rank_correlation=tau, served_positions=[position.get(item) for item in served]
    )
