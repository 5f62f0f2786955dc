"""Ranking metrics at K (pure: numpy only).

For one user with a ranked top-K list and a set of relevant items:
- Recall@K = hits / |truth|;
- NDCG@K: binary gains, DCG = Σ 1 / log2(rank + 1) over hits, divided by the ideal DCG of
  min(K, |truth|) hits;
- HitRate@K = 1 when at least one hit;
- MRR = 1 / rank of the first relevant item within the top-K list, 0 when there is none.
Each is averaged over users. Coverage = distinct items recommended (across all users' top-K
lists) / catalog size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class UserMetrics:
    recall: float
    ndcg: float
    hit: float
    reciprocal_rank: float


def user_metrics(*, ranked: Sequence[int], truth: set[int], k: int) -> UserMetrics:
    """Metrics of one user's ranking (only its first `k` items count); `truth` must not be empty."""
    top = list(ranked)[:k]
    hit_ranks = [rank for rank, item in enumerate(top, start=1) if item in truth]
    dcg = sum(1.0 / np.log2(rank + 1) for rank in hit_ranks)
    ideal = sum(1.0 / np.log2(rank + 1) for rank in range(1, min(k, len(truth)) + 1))
    return UserMetrics(
        recall=len(hit_ranks) / len(truth),
        ndcg=float(dcg / ideal),
        hit=1.0 if hit_ranks else 0.0,
        reciprocal_rank=1.0 / hit_ranks[0] if hit_ranks else 0.0,
    )


def aggregate_metrics(*, rankings: Sequence[Sequence[int]], truths: Sequence[set[int]], k: int, n_items: int) -> dict:
    """Mean metrics over users plus catalog coverage, keyed `recall@K`, `ndcg@K`, `hitrate@K`,
    `mrr`, `coverage`, `users`."""
    per_user = [user_metrics(ranked=r, truth=t, k=k) for r, t in zip(rankings, truths, strict=True)]
    recommended = {item for ranked in rankings for item in list(ranked)[:k]}

    def mean(values: list[float]) -> float:
        return float(np.mean(values)) if values else 0.0

    return {
        f"recall@{k}": mean([m.recall for m in per_user]),
        f"ndcg@{k}": mean([m.ndcg for m in per_user]),
        f"hitrate@{k}": mean([m.hit for m in per_user]),
        "mrr": mean([m.reciprocal_rank for m in per_user]),
        "coverage": len(recommended) / n_items if n_items else 0.0,
        "users": len(per_user),
    }


def ndcg_of_lists(*, scores: np.ndarray, labels: np.ndarray, group_sizes: np.ndarray, k: int = 10) -> float:
    """Mean NDCG@k of candidate lists ordered by `scores` (ties: list order), binary gains, the
    ideal over each list's own positives; lists without a positive count 0."""
    if not len(group_sizes):
        return 0.0
    total, start = 0.0, 0
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    for size in group_sizes.tolist():
        block_scores, block_labels = scores[start : start + size], labels[start : start + size]
        order = np.lexsort((np.arange(size), -block_scores))[:k]
        gains = block_labels[order] > 0
        ideal = discounts[: min(k, int((block_labels > 0).sum()))].sum()
        total += float(discounts[: len(order)][gains].sum() / ideal) if ideal > 0 else 0.0
        start += size
    return total / len(group_sizes)
