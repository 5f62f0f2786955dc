"""The protocol's split and user-selection rules on a tiny event set (pure)."""

import numpy as np

from recommendations.evaluation.split import default_cutoff, split_by_cutoff, split_holdout_last
from recommendations.recall.events import Interactions

# (user, item, type, time): the cutoff is t=10.
EVENTS = [
    (0, 0, "purchase", 1),  # user 0 trains on item 0 ...
    (0, 0, "purchase", 11),  # ... re-buys it (seen: not truth) ...
    (0, 1, "click", 12),  # ... and clicks item 1 (truth)
    (0, 2, "view", 13),  # a view is not positive
    (1, 3, "purchase", 12),  # user 1 has no training event
    (2, 1, "view", 2),  # user 2 trains, then only views
    (2, 3, "view", 12),
    (3, 2, "purchase", 3),  # user 3 only re-buys a seen item
    (3, 2, "purchase", 15),
]


def interactions():
    users, items, types, times = zip(*EVENTS, strict=True)
    types = np.array(types)
    return Interactions(
        users=np.array(users),
        items=np.array(items),
        weights=np.ones(len(users)),
        timestamps=np.array(times, dtype=float),
        positive=types != "view",
        n_users=4,
        n_items=4,
    )


def test_cutoff_split_selects_users_and_removes_seen_items():
    split = split_by_cutoff(interactions=interactions(), cutoff=10.0)

    assert split.users.tolist() == [0]
    assert split.truths == (frozenset({1}),)
    assert split.train.timestamps.tolist() == [1.0, 2.0, 3.0]
    assert split.test_events == 4


def test_include_seen_keeps_repeat_purchases():
    split = split_by_cutoff(interactions=interactions(), cutoff=10.0, include_seen=True)

    assert split.users.tolist() == [0, 3]
    assert split.truths == (frozenset({0, 1}), frozenset({2}))


def test_holdout_last_tests_each_users_last_positive_events():
    split = split_holdout_last(interactions=interactions(), n=1)

    # user 0's last positive is the click on item 1; user 3's re-buy is seen; user 1 has nothing left
    assert split.users.tolist() == [0]
    assert split.truths == (frozenset({1}),)
    assert len(split.train.users) == len(EVENTS) - 3


def test_default_cutoff_leaves_the_last_tenth():
    assert default_cutoff(timestamps=np.arange(100, dtype=float)) == 90.0
