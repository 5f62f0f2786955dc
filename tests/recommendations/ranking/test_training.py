"""Training: temporal lists, stored versions, the command and the Celery task's routing."""

import lightgbm as lgb
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from recommendations.models import RankerModel
from recommendations.ranking.features import FEATURE_SETS
from recommendations.ranking.training import ranker_train
from tests.recommendations.ranking_shop import ranking_shop


@pytest.fixture
def shop(db):
    return ranking_shop()


def test_each_run_stores_a_new_inactive_version(shop):
    # given the shop (each customer's last visit at T + 2 days, the one before at T - 3 - c days)
    # when the statistical ranker is trained twice
    first = ranker_train(feature_set="statistical")
    second = ranker_train(feature_set="statistical")

    # then two versions of ranker "statistical" exist, neither active, each a loadable model
    assert [(r.name, r.version, r.is_active) for r in (first, second)] == [
        ("statistical", 1, False),
        ("statistical", 2, False),
    ]
    assert first.feature_names == list(FEATURE_SETS["statistical"])
    assert lgb.Booster(model_str=first.artifact).num_feature() == len(FEATURE_SETS["statistical"])
    # two cuts of every customer's history, twelve lists each: at the last visit (T + 2 days) one new
    # item; at the one before (T - 3 - c days) the two items bought within the 28 days from it
    windows = first.data_windows
    assert (windows["rounds"], windows["lists"], windows["positives"]) == (2, 24, 36)
    assert first.data_windows["data_clock"] == "2024-03-03T00:00:00+00:00"
    # the gate's two numbers are stored with it
    assert {"ndcg@10", "fused_ndcg@10"} <= set(first.validation_metrics)
    assert set(first.feature_importance) == set(FEATURE_SETS["statistical"])
    assert first.device == "cpu"


def test_the_command_trains_and_activates_past_the_gate_when_forced(shop):
    call_command("train_ranker", "--feature-set", "semantic", "--activate", "--force", "--name", "home")
    ranker = RankerModel.objects.get()
    assert (ranker.name, ranker.version, ranker.feature_set, ranker.is_active) == ("home", 1, "semantic", True)


def gated(*, ranker_ndcg, fused_ndcg):
    return RankerModel.objects.create(
        name="home",
        version=RankerModel.objects.count() + 1,
        feature_set="statistical",
        artifact="",
        validation_metrics={"ndcg@10": ranker_ndcg, "fused_ndcg@10": fused_ndcg},
    )


def test_activation_refuses_a_ranker_below_the_fused_order_and_names_both_numbers(db):
    from recommendations.ranking.training import RankerGateError, ranker_activate

    # given a version that scored below the fused order on its own held-out lists, and one above
    below, above = gated(ranker_ndcg=0.10, fused_ndcg=0.12), gated(ranker_ndcg=0.13, fused_ndcg=0.12)

    # when each is activated
    with pytest.raises(RankerGateError, match=r"NDCG@10 0\.1000 against the fused order's 0\.1200"):
        ranker_activate(ranker_id=below.pk)
    ranker_activate(ranker_id=above.pk)

    # then only the better one serves; forcing activates the other
    assert list(RankerModel.objects.filter(is_active=True).values_list("pk", flat=True)) == [above.pk]
    ranker_activate(ranker_id=below.pk, force=True)
    assert list(RankerModel.objects.filter(is_active=True).values_list("pk", flat=True)) == [below.pk]


def test_a_version_without_the_comparison_is_refused_unforced(db):
    from recommendations.ranking.training import RankerGateError, ranker_activate

    old = RankerModel.objects.create(name="home", version=1, feature_set="statistical", artifact="")
    with pytest.raises(RankerGateError, match="no held-out comparison"):
        ranker_activate(ranker_id=old.pk)
    assert not RankerModel.objects.filter(is_active=True).exists()


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
    from recommendations.interactions import interactions_load
    from recommendations.ranking.features import catalog_load
    from recommendations.ranking.training import ranker_fit, training_data_build

    interactions, _ = interactions_load()
    data = training_data_build(interactions=interactions, catalog=catalog_load())

    # when the ranker is fitted on it
    fitted = ranker_fit(data=data, feature_set="statistical", device="cuda")

    # then it trained on cpu and says so
    assert fitted.device == "cpu"
    assert lgb.Booster(model_str=fitted.model).num_feature() == len(FEATURE_SETS["statistical"])


def test_the_task_stores_an_inactive_version_and_returns_its_id(shop):
    from recommendations.tasks import train_ranker

    ranker_id = train_ranker.apply(kwargs={"feature_set": "statistical"}).get()
    assert RankerModel.objects.filter(pk=ranker_id, name="statistical", version=1, is_active=False).exists()


def test_the_tree_count_follows_the_smoothed_validation_peak_not_a_lucky_iteration():
    from recommendations.ranking.training import smoothed_peak

    # a spike at iteration 3, then a broad rise peaking around iteration 40
    curve = [0.2, 0.2, 0.5, 0.2] + [0.2 + 0.004 * i for i in range(36)] + [0.34 - 0.002 * i for i in range(40)]
    assert smoothed_peak(values=curve, window=1) == 3
    assert 35 <= smoothed_peak(values=curve, window=25) <= 45
    assert smoothed_peak(values=[], window=25) == 1


def test_a_memory_budget_too_small_for_every_list_samples_customers_and_says_so(shop):
    from recommendations.interactions import interactions_load
    from recommendations.ranking.features import FEATURE_SETS, catalog_load
    from recommendations.ranking.training import RANK_CANDIDATES, ROUNDS, training_data_build

    # given a budget that holds the rows of five lists a round
    row_bytes = 4 * (max(len(names) for names in FEATURE_SETS.values()) + 4)
    budget = 5 * ROUNDS * RANK_CANDIDATES * row_bytes
    interactions, _ = interactions_load()

    data = training_data_build(interactions=interactions, catalog=catalog_load(), memory_budget=budget)

    # then each round keeps five of its twelve customers, and the summary names the rule
    assert data.windows["sampled_to"] == 5
    assert (data.windows["customers_sampled"], data.windows["lists"]) == (10, 10)
    assert "to stay within the memory budget" in data.windows["sample_rule"]


def test_a_version_is_one_insert_made_after_the_fit_so_a_killed_run_leaves_nothing_half_written(shop):
    # given: every statement of a training run
    with CaptureQueriesContext(connection) as queries:
        # when
        ranker = ranker_train(feature_set="statistical")

    # then: the row, artifact included, is written by one INSERT and never touched again (a SIGKILL
    # before its commit leaves no version; after it, a whole one: bench/train_kill_drill.py)
    writes = [
        q["sql"]
        for q in queries.captured_queries
        if '"recommendations_rankermodel"' in q["sql"] and not q["sql"].lstrip().startswith("SELECT")
    ]
    assert len(writes) == 1
    assert writes[0].startswith('INSERT INTO "recommendations_rankermodel"')
    assert ranker.artifact in writes[0]
    assert lgb.Booster(model_str=RankerModel.objects.get().artifact).num_feature() == len(ranker.feature_names)


def test_merged_members_score_as_their_sum():
    import numpy as np

    from recommendations.ranking.training import boosters_merge

    # given three small LambdaMART models of different sizes (more than ten trees in all, so the
    # renumbered tree headers change length)
    rng = np.random.default_rng(0)
    features = rng.normal(size=(600, 4))
    labels = (features[:, 0] + rng.normal(size=600) > 1).astype(float)
    models = [
        lgb.train(
            {"objective": "lambdarank", "verbose": -1, "seed": seed, "bagging_fraction": 0.8, "bagging_freq": 1},
            lgb.Dataset(features, label=labels, group=[20] * 30),
            num_boost_round=3 + 2 * seed,
        ).model_to_string()
        for seed in range(3)
    ]

    # when they are merged into one model string
    merged = lgb.Booster(model_str=boosters_merge(models))

    # then it holds every tree and scores each row as the members' sum
    assert merged.num_trees() == sum(lgb.Booster(model_str=m).num_trees() for m in models) == 15
    expected = sum(lgb.Booster(model_str=m).predict(features) for m in models)
    np.testing.assert_allclose(merged.predict(features), expected, rtol=1e-9, atol=1e-12)
