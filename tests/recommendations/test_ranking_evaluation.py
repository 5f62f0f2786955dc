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
    # and they learned from labels before the cutoff: the 28 days up to the training data's clock
    # (T - 3 days), features before that
    training = result["protocol"]["rankers"]["training"]
    assert training["label_time"] == "2024-01-30T00:00:01+00:00"
    assert (training["lists"], training["positives"]) == (12, 12)


def test_too_little_history_leaves_the_ranker_rows_out(shop, tmp_path):
    # given a cutoff before which nobody has a labelled list (only first purchases)
    out = tmp_path / "run.json"

    # when the rankers are evaluated
    call_command("evaluate", "--cutoff", "2024-02-01", "--strategies", "fused,ranker_semantic", "--json", str(out))
    result = json.loads(out.read_text())

    # then fused has its row, the ranker none, and the protocol says why
    assert set(result["strategies"]) == {"fused"}
    assert result["protocol"]["rankers"] == {"skipped": "no events before the label time"}
