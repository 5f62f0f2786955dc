"""The protocol's split and user-selection rules on a tiny event set (pure)."""

import numpy as np

from recommendations.contracts import Interactions
from recommendations.evaluation.split import default_cutoff, split_by_cutoff, split_holdout_last

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


DAY = 86_400.0


def day_events(rows):
    """Interactions from (user, item, day, positive) rows, events at noon."""
    users, items, days, positive = zip(*rows, strict=True)
    return Interactions(
        users=np.array(users),
        items=np.array(items),
        weights=np.ones(len(users)),
        timestamps=np.array(days, dtype=float) * DAY + DAY / 2,
        positive=np.array(positive),
        n_users=max(users) + 1,
        n_items=max(items) + 1,
    )


# user 0 visits on days 1, 5 and 40; user 1 on days 2 and 3 (with a view on day 4); user 2 once.
VISITS = [
    (0, 0, 1, True),
    (0, 1, 5, True),
    (0, 2, 5, True),
    (0, 3, 40, True),
    (1, 0, 2, True),
    (1, 1, 3, True),
    (1, 2, 4, False),
    (2, 3, 9, True),
]


def test_a_visit_cut_is_each_users_own_last_visit_with_their_request_time():
    from recommendations.evaluation.split import split_visit_cut

    split = split_visit_cut(interactions=day_events(VISITS))

    # users 0 and 1 are cut at their own last visit; user 2 has nothing before theirs
    assert split.users.tolist() == [0, 1]
    assert split.truths == (frozenset({3}), frozenset({1}))
    # only events before each user's own cut train (user 1's later view is dropped)
    assert sorted(zip(split.train.users.tolist(), split.train.items.tolist(), strict=True)) == [
        (0, 0),
        (0, 1),
        (0, 2),
        (1, 0),
    ]
    # each request happens at the user's first test event
    assert split.clock[:2].tolist() == [40 * DAY + DAY / 2, 3 * DAY + DAY / 2]


def test_an_earlier_visit_cut_labels_what_follows_within_the_horizon():
    from recommendations.evaluation.split import split_visit_cut

    split = split_visit_cut(interactions=day_events(VISITS), back=1, horizon_days=10)

    # user 0 cut at day 5: items 1 and 2 that day, not item 3 thirty-five days later; user 1 cut at
    # day 2 (nothing before it); user 2 has a single visit and keeps it for training
    assert split.users.tolist() == [0]
    assert split.truths == (frozenset({1, 2}),)
    assert (2, 3) in set(zip(split.train.users.tolist(), split.train.items.tolist(), strict=True))


def test_holdout_last_breaks_ties_in_time_by_catalog_order_or_at_random():
    # given one user whose last two purchases share a second
    same_time = day_events([(0, 0, 1, True), (0, 1, 2, True), (0, 2, 2, True)])

    # then the protocol holds out the later item in catalog order; a random tie-break varies by seed
    assert split_holdout_last(interactions=same_time, n=1).truths == (frozenset({2}),)
    drawn = {split_holdout_last(interactions=same_time, n=1, tie_seed=seed).truths[0] for seed in range(20)}
    assert drawn == {frozenset({1}), frozenset({2})}
