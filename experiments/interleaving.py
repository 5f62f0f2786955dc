"""Team-draft interleaving, pure: two ranked lists in, one merged list out, each item tagged with
the team (strategy) that contributed it, so a click on it is credited to that strategy.

Radlinski, Kurup & Joachims (2008), "How Does Clickthrough Data Reflect Retrieval Quality?",
CIKM: like captains picking teams, the team with fewer picks so far picks next (a coin toss
breaks a tie), taking its highest-ranked item not already in the merged list. Neither team can
get ahead by more than one pick, so position bias favours neither on average; the coin is seeded
by the caller (per request) so a merge can be reproduced from its seed.
"""

from __future__ import annotations

import random
from collections.abc import Hashable, Sequence
from typing import TypeVar

Item = TypeVar("Item", bound=Hashable)

TEAM_A = "a"
TEAM_B = "b"


def team_draft(*, a: Sequence[Item], b: Sequence[Item], k: int, seed: int) -> list[tuple[Item, str]]:
    """Up to `k` distinct items from `a` and `b`, each with the team (TEAM_A or TEAM_B) that
    picked it. When one list runs out, the other keeps picking until `k` or both are exhausted."""
    rng = random.Random(seed)
    merged: list[tuple[Item, str]] = []
    taken: set[Item] = set()
    next_a = next_b = 0
    picks_a = picks_b = 0
    while len(merged) < k:
        while next_a < len(a) and a[next_a] in taken:
            next_a += 1
        while next_b < len(b) and b[next_b] in taken:
            next_b += 1
        a_left, b_left = next_a < len(a), next_b < len(b)
        if not (a_left or b_left):
            break
        a_turn = picks_a < picks_b or (picks_a == picks_b and rng.random() < 0.5)
        if a_left and (a_turn or not b_left):
            item, team = a[next_a], TEAM_A
            picks_a += 1
        else:
            item, team = b[next_b], TEAM_B
            picks_b += 1
        taken.add(item)
        merged.append((item, team))
    return merged


def clicks_credit(*, teams: Sequence[str | None], clicked: Sequence[bool]) -> tuple[int, int]:
    """Clicks credited to team A and team B in one merged list (`teams` and `clicked` by position)."""
    credit_a = sum(1 for team, click in zip(teams, clicked, strict=True) if click and team == TEAM_A)
    credit_b = sum(1 for team, click in zip(teams, clicked, strict=True) if click and team == TEAM_B)
    return credit_a, credit_b
