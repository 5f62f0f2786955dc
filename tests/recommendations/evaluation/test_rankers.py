"""`evaluate`'s ranker rows: trained in memory on events before the cutoff only."""

import json

import pytest
from django.core.management import call_command

from tests.recommendations.ranking_shop import T, ranking_shop


@pytest.fixture
def shop(db):
    return ranking_shop()


def test_ranker_rows_are_trained_before_the_cutoff(shop, tmp_path):
    # given the shop cut at T: each customer's purchase at T + 2 days is their test item
    out = tmp_path / "run.json"

    # when the rankers are evaluated next to the fused list
    call_command(
        "evaluate",
        "--cutoff",
        T.isoformat(),
        "--strategies",
        "fused,ranker_statistical,ranker_semantic",
        "--json",
        str(out),
    )
    result = json.loads(out.read_text())

    # then both rankers have rows for all twelve customers, finding every test item in the top 10
    # (each customer's four unseen items are all candidates)
    for name in ("ranker_statistical", "ranker_semantic"):
        assert result["strategies"][name]["users"] == 12
        assert result["strategies"][name]["recall@10"] == 1.0
    # and they learned from lists cut before the cutoff only: each customer's last visit before it
    # (T - 3 - c days) is the label, the purchase before it the history (the second cut has no
    # history); labels reach as far after a cut as the test period does after the cutoff (2 days)
    training = result["protocol"]["rankers"]["training"]
    assert training["cut"] == "cut at the start of each customer's visits, labels within 2 days"
    assert (training["rounds"], training["lists"], training["positives"]) == (1, 12, 12)


def test_too_little_history_leaves_the_ranker_rows_out(shop, tmp_path):
    # given a cutoff before which nobody has a labelled list (only first purchases)
    out = tmp_path / "run.json"

    # when the rankers are evaluated
    call_command("evaluate", "--cutoff", "2024-02-01", "--strategies", "fused,ranker_semantic", "--json", str(out))
    result = json.loads(out.read_text())

    # then fused has its row, the ranker none, and the protocol says why
    assert set(result["strategies"]) == {"fused"}
    assert result["protocol"]["rankers"] == {
        "skipped": "no customer has both history before their cut and a new positive item after it "
        "(cut at the start of each customer's visits, labels within 31 days)"
    }
