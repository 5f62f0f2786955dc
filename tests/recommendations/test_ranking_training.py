"""Training: temporal lists, stored versions, the command and the Celery task's routing."""

import lightgbm as lgb
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from recommendations.models import RankerModel
from recommendations.ranking.features import FEATURE_SETS
from recommendations.ranking.training import ranker_train
from tests.recommendations.ranking_shop import ranking_shop


@pytest.fixture
def shop(db):
    return ranking_shop()


def test_each_run_stores_a_new_inactive_version(shop):
    # given the shop (data clock T + 2 days: the label window is the 28 days up to it)
    # when the statistical ranker is trained twice
    first = ranker_train(feature_set="statistical")
    second = ranker_train(feature_set="statistical")

    # then two versions of ranker "statistical" exist, neither active, each a loadable model
    assert [(r.name, r.version, r.is_active) for r in (first, second)] == [
        ("statistical", 1, False),
        ("statistical", 2, False),
    ]
    assert first.feature_names == list(FEATURE_SETS["statistical"])
    assert lgb.Booster(model_str=first.artifact).num_feature() == 20
    # every customer bought a new item in the window, after a purchase before it
    assert first.data_windows["lists"] == 12
    assert first.data_windows["label_from"] == "2024-02-04T00:00:01+00:00"
    assert first.data_windows["data_clock"] == "2024-03-03T00:00:00+00:00"
    assert set(first.feature_importance) == set(FEATURE_SETS["statistical"])
    assert first.device == "cpu"


def test_the_command_trains_and_activates(shop):
    call_command("train_ranker", "--feature-set", "semantic", "--activate", "--name", "home")
    ranker = RankerModel.objects.get()
    assert (ranker.name, ranker.version, ranker.feature_set, ranker.is_active) == ("home", 1, "semantic", True)


def test_the_command_refuses_a_bad_time_and_too_early_a_cut(shop):
    with pytest.raises(CommandError, match="not an ISO 8601 time"):
        call_command("train_ranker", "--as-of", "yesterday")
    with pytest.raises(CommandError, match="no events to train on"):
        call_command("train_ranker", "--as-of", "2020-01-01")
    assert not RankerModel.objects.exists()


def test_training_is_routed_to_the_gpu_queue():
    assert settings.CELERY_TASK_ROUTES["recommendations.tasks.train_ranker"] == {"queue": "gpu"}


def test_an_unusable_device_falls_back_to_cpu(shop):
    # given a device this LightGBM build cannot use (the PyPI wheel has no CUDA learner)
    from recommendations.ranking.features import catalog_load, reference_time_of
    from recommendations.ranking.training import label_time_before, ranker_fit, training_data_build
    from recommendations.recall.events import interactions_load

    interactions, _ = interactions_load()
    data = training_data_build(
        interactions=interactions,
        catalog=catalog_load(),
        label_time=label_time_before(clock=reference_time_of(events=interactions)),
    )

    # when the ranker is fitted on it
    fitted = ranker_fit(data=data, feature_set="statistical", device="cuda")

    # then it trained on cpu and says so
    assert fitted.device == "cpu"
    assert lgb.Booster(model_str=fitted.model).num_feature() == 20


def test_the_task_stores_an_inactive_version_and_returns_its_id(shop):
    from recommendations.tasks import train_ranker

    ranker_id = train_ranker.apply(kwargs={"feature_set": "statistical"}).get()
    assert RankerModel.objects.filter(pk=ranker_id, name="statistical", version=1, is_active=False).exists()
