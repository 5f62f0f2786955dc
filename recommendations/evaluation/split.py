"""Train/test splits and the users evaluated (DESIGN.md, "Offline evaluation protocol"). Pure.

- By cutoff: events before the cutoff train, events at or after it test.
- Holdout-last N: each user's last N positive events test, everything else trains.
- Visit cut: each user's history is cut at the start of the day of one of their own visits (their
  last, or the one `back` visits before it); their positive events from the cut to `horizon`
  days after it test, only their events before the cut train (every user has their own cut).
  The ranker's training lists cut each customer's own history this way, so they need no
  calendar window.
A user is evaluated when they have at least one training event and at least one positive test
event; their truth is the distinct items of their positive test events, minus the items they
interacted with in training unless `include_seen`. A user whose truth is then empty is not
evaluated (there is nothing to find).

Each split also says *when* each evaluated user's request happens (`clock`): the time of their
first test event. Serving always knows the time of a request; time-dependent scores
(popularity, recencies) are computed as of it, from events strictly before it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recommendations.contracts import Interactions
from recommendations.interactions import SECONDS_PER_DAY, rank_in_runs

# The default cutoff leaves this share of the events (the most recent ones) for testing.
DEFAULT_TEST_FRACTION = 0.1


@dataclass(frozen=True)
class Split:
    train: Interactions
    # Evaluated users (dense indices, ascending) and, per user, the set of relevant items.
    users: np.ndarray
    truths: tuple[frozenset[int], ...]
    test_events: int
    # n_users: each user's request time (POSIX seconds; their first test event, NaN with none).
    clock: np.ndarray


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


def split_holdout_last(
    *, interactions: Interactions, n: int, include_seen: bool = False, tie_seed: int | None = None
) -> Split:
    """Each user's last `n` positive events test; the rest train.

    Ties in time are broken by item (catalog order, the protocol's rule), or at random with
    `tie_seed`: the rankers' training lists use that, so that they learn what comes next and not
    the order in which a shop happened to list its products.
    """
    positive = np.flatnonzero(interactions.positive)
    tie = (
        -interactions.items[positive]
        if tie_seed is None
        else np.random.default_rng(tie_seed).permutation(len(positive))
    )
    order = np.lexsort((tie, -interactions.timestamps[positive], interactions.users[positive]))
    newest_first = positive[order]
    is_test = np.zeros(len(interactions.users), dtype=bool)
    is_test[newest_first[rank_in_runs(interactions.users[newest_first]) < n]] = True
    return _split(interactions=interactions, is_train=~is_test, is_test=is_test, include_seen=include_seen)


def split_visit_cut(
    *, interactions: Interactions, back: int = 0, horizon_days: float | None = None, include_seen: bool = False
) -> Split:
    """Each user's history cut at the start of their visit `back` visits before their last one (a
    visit: a UTC day with a positive event). Their positive events in [cut, cut + horizon_days)
    test (no horizon: everything from the cut on), their events before the cut train, the rest
    is dropped. A user with fewer visits keeps all their events for training."""
    positive = interactions.positive
    days = np.floor(interactions.timestamps[positive] / SECONDS_PER_DAY).astype(np.int64)
    keys = np.unique(interactions.users[positive].astype(np.int64) * 1_000_000 + days)
    visit_users, visit_days = keys // 1_000_000, keys % 1_000_000
    # Newest visit first per user: the `back`-th of each user is their cut.
    order = np.lexsort((-visit_days, visit_users))
    rank = rank_in_runs(visit_users[order])
    chosen = order[rank == back]
    cut = np.full(interactions.n_users, np.inf)
    cut[visit_users[chosen]] = visit_days[chosen] * SECONDS_PER_DAY
    user_cut = cut[interactions.users]
    end = user_cut + (np.inf if horizon_days is None else horizon_days * SECONDS_PER_DAY)
    is_train = interactions.timestamps < user_cut
    return _split(
        interactions=interactions,
        is_train=is_train,
        is_test=positive & ~is_train & (interactions.timestamps < end),
        include_seen=include_seen,
    )


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
    clock = np.full(interactions.n_users, np.nan)
    np.fmin.at(clock, interactions.users[is_test], interactions.timestamps[is_test])
    return Split(
        train=train,
        users=users,
        truths=tuple(truths[user] for user in users.tolist()),
        test_events=int(is_test.sum()),
        clock=clock,
    )
