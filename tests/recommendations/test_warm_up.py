"""Warm-up of a web worker before its first request: models loaded, failures tolerated."""

from __future__ import annotations

import logging

import pytest
from django.test import override_settings

from recommendations.models import RankerModel
from recommendations.ranking import stage as serving
from recommendations.ranking.training import ranker_activate
from recommendations.recall import spelling
from recommendations.warm_up import serving_warm_up, warm_up_line, warm_workers
from tests.recommendations.ranking.test_stage import price_model
from tests.recommendations.ranking_shop import ranking_shop

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def nothing_loaded():
    serving.reset()
    yield
    serving.reset()


def test_the_embedding_model_and_every_active_ranker_are_loaded_before_the_first_request():
    # given an active ranker and one that is not
    ranking_shop()
    active = RankerModel.objects.create(
        name="shop", version=1, feature_set="statistical", artifact=price_model(sign=1.0), feature_names=[]
    )
    ranker_activate(ranker_id=active.pk, force=True)
    RankerModel.objects.create(
        name="other", version=1, feature_set="statistical", artifact=price_model(sign=-1.0), feature_names=[]
    )

    # when
    seconds = serving_warm_up()

    # then
    assert set(seconds) == {"embedding_model", "search_vocabulary", "rankers"}
    assert spelling._vocabulary.peek() is not None  # a shopper's first search does not load it
    assert set(serving._models) == {"shop"}
    assert serving._models["shop"].booster is not None
    assert serving._snapshot.peek() is not None  # the item statistics the ranker's features read


def test_a_model_that_cannot_load_is_logged_and_the_worker_still_starts(caplog):
    caplog.set_level(logging.WARNING)

    with override_settings(EMBEDDING_MODEL="/nonexistent/model"):
        seconds = serving_warm_up()

    assert "embedding_model" not in seconds
    assert "the embedding model did not load" in caplog.text
    assert serving._models == {}  # no active ranker: nothing else to load


def test_a_log_tells_how_many_workers_are_warm():
    log = "\n".join(
        [
            "[1] [INFO] Booting worker with pid: 1",
            "the embedding model did not load during warm-up; it is tried again on use",
            f"[1] [INFO] {warm_up_line({'embedding_model': 5.94})}",
            f"[2] [INFO] {warm_up_line({})}",
        ]
    )

    assert warm_workers(log) == 2
    assert warm_up_line({"embedding_model": 5.94}) == "warm-up: embedding_model 5.9 s"
