"""Train/test split and the users evaluated (DESIGN.md, "Offline evaluation protocol"). Pure.

- By cutoff: events before the cutoff train, events at or after it test.
- Holdout-last N: each user's last N positive events test, everything else trains.
A user is evaluated when they have at least one training event and at least one positive test
event; their truth is the distinct items of their positive test events, minus the items they
interacted with in training unless `include_seen`. A user whose truth is then empty is not
evaluated (there is nothing to find).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recommendations.recall.events import Interactions, rank_in_runs

# The default cutoff leaves this share of the events (the most recent ones) for testing.
DEFAULT_TEST_FRACTION = 0.1


@dataclass(frozen=True)
class Split:
    train: Interactions
    # Evaluated users (dense indices, ascending) and, per user, the set of relevant items.
    users: np.ndarray
    truths: tuple[frozenset[int], ...]
    test_events: int


def default_cutoff(*, timestamps: np.ndarray, test_fraction: float = DEFAULT_TEST_FRACTION) -> float:
    """The earliest event time such that about `test_fraction` of the events are at or after it."""
    ordered = np.sort(np.asarray(timestamps, dtype=np.float64))
    return float(ordered[min(int(len(ordered) * (1.0 - test_fraction)), len(ordered) - 1)])


def split_by_cutoff(*, interactions: Interactions, cutoff: float, include_seen: bool = False) -> Split:
    """Events before `cutoff` (POSIX seconds) train; positive events at or after it test."""
    is_train = interactions.timestamps < cutoff
    return _split(
        interactions=interactions,
        is_train=is_train,
        is_test=~is_train & interactions.positive,
        include_seen=include_seen,
    )


def split_holdout_last(*, interactions: Interactions, n: int, include_seen: bool = False) -> Split:
    """Each user's last `n` positive events test (ties in time broken by item); the rest train."""
    positive = np.flatnonzero(interactions.positive)
    order = np.lexsort(
        (-interactions.items[positive], -interactions.timestamps[positive], interactions.users[positive])
    )
    newest_first = positive[order]
    is_test = np.zeros(len(interactions.users), dtype=bool)
    is_test[newest_first[rank_in_runs(interactions.users[newest_first]) < n]] = True
    return _split(interactions=interactions, is_train=~is_test, is_test=is_test, include_seen=include_seen)


def _split(*, interactions: Interactions, is_train: np.ndarray, is_test: np.ndarray, include_seen: bool) -> Split:
    train = interactions.subset(is_train)
    seen: dict[int, set[int]] = {}
    for user, item in zip(train.users.tolist(), train.items.tolist(), strict=True):
        seen.setdefault(user, set()).add(item)
    relevant: dict[int, set[int]] = {}
    for user, item in zip(interactions.users[is_test].tolist(), interactions.items[is_test].tolist(), strict=True):
        if user in seen:
            relevant.setdefault(user, set()).add(item)
    truths = {user: frozenset(items if include_seen else items - seen[user]) for user, items in relevant.items()}
    users = np.array(sorted(user for user, items in truths.items() if items), dtype=np.int64)
    return Split(
        train=train,
        users=users,
        truths=tuple(truths[user] for user in users.tolist()),
        test_events=int(is_test.sum()),
    )
