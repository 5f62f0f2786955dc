"""Team-draft interleaving: distinct items, alternating teams, each team in its own order, reproducible."""

from __future__ import annotations

import pytest

from experiments.interleaving import TEAM_A, TEAM_B, clicks_credit, team_draft

A = ["a1", "s1", "a2", "s2", "a3", "a4", "a5", "a6"]
B = ["s1", "b1", "s2", "b2", "b3", "b4", "b5", "b6"]


@pytest.mark.parametrize("seed", range(50))
def test_merge_has_no_duplicates_and_each_team_keeps_its_own_order(seed):
    merged = team_draft(a=A, b=B, k=10, seed=seed)
    items = [item for item, _ in merged]
    assert len(items) == 10 == len(set(items))
    for team, source in ((TEAM_A, A), (TEAM_B, B)):
        picked = [item for item, t in merged if t == team]
        assert all(item in source for item in picked)
        assert picked == sorted(picked, key=source.index)


@pytest.mark.parametrize("seed", range(50))
def test_teams_contribute_alternately_neither_more_than_one_pick_ahead(seed):
    merged = team_draft(a=A, b=B, k=12, seed=seed)
    picks = {TEAM_A: 0, TEAM_B: 0}
    for _, team in merged:
        picks[team] += 1
        assert abs(picks[TEAM_A] - picks[TEAM_B]) <= 1
    # and every round of two holds one pick of each team
    teams = [team for _, team in merged]
    assert all({teams[i], teams[i + 1]} == {TEAM_A, TEAM_B} for i in range(0, len(teams) - 1, 2))


def test_same_seed_same_merge_and_the_coin_decides_who_picks_first():
    assert team_draft(a=A, b=B, k=8, seed=3) == team_draft(a=A, b=B, k=8, seed=3)
    first_teams = {team_draft(a=A, b=B, k=8, seed=seed)[0][1] for seed in range(20)}
    assert first_teams == {TEAM_A, TEAM_B}


def test_identical_lists_merge_into_the_same_list():
    merged = team_draft(a=A, b=A, k=8, seed=1)
    assert [item for item, _ in merged] == A


def test_when_one_list_runs_out_the_other_fills_the_merge():
    merged = team_draft(a=["x"], b=["y", "z", "w"], k=4, seed=0)
    assert sorted(item for item, _ in merged) == ["w", "x", "y", "z"]
    assert [team for item, team in merged if item != "x"] == [TEAM_B] * 3
    assert team_draft(a=[], b=[], k=5, seed=0) == []


def test_a_click_is_credited_to_the_team_that_contributed_the_item():
    merged = team_draft(a=A, b=B, k=6, seed=5)
    teams = [team for _, team in merged]
    clicked_item = next(item for item, team in merged if team == TEAM_B)
    clicked = [item == clicked_item for item, _ in merged]
    assert clicks_credit(teams=teams, clicked=clicked) == (0, 1)
    assert clicks_credit(teams=teams, clicked=[True] * 6) == (teams.count(TEAM_A), teams.count(TEAM_B))
