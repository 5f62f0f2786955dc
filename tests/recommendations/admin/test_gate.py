"""*Evaluate* in the admin: on default-strategy versions and on experiments' variants it queues the
offline gate (run eagerly here), refuses bad strategies and empty shops with nothing queued, and the
run shows the strategy beside the serving default."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from placements.models import DefaultStrategy
from placements.public import default_strategies_forget, default_strategy_save
from recommendations.evaluation.gate import DEFAULT, STRATEGY, gate_run
from recommendations.models import EvaluationRun
from recommendations.tasks import evaluate_strategy
from recsite.celery import app as celery_app
from tests.factories import VariantFactory, make_experiment
from tests.recommendations.ranking_shop import ranking_shop

pytestmark = pytest.mark.django_db

DEFAULTS = "admin:placements_defaultstrategy_changelist"
EXPERIMENTS = "admin:experiments_experiment_changelist"


@pytest.fixture(autouse=True)
def eager_tasks():
    default_strategies_forget()
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False
    default_strategies_forget()


@pytest.fixture
def operator(client, django_user_model):
    user = django_user_model.objects.create_user("olga", password="pw-12345678", is_staff=True)
    user.groups.add(Group.objects.get(name="Operators"))
    client.force_login(user)
    return user


def _act(client, url: str, action: str, pks: list[int]):
    return client.post(reverse(url), {"action": action, "_selected_action": pks}, follow=True)


def test_evaluate_on_a_default_version_queues_the_gate_and_the_run_compares_it_with_the_serving_one(client, operator):
    # given a shop, an older item-CF version and popularity serving now
    ranking_shop()
    older = default_strategy_save(placement="home_feed", config={"routes": {"itemcf": 1.0}})
    serving = default_strategy_save(placement="home_feed", config={"routes": {"popularity": 1.0}})

    # when an operator evaluates the older version
    answer = _act(client, DEFAULTS, "evaluate_default_versions", [older.pk])

    # then they are told, and the run compares v1 with v2
    page = answer.content.decode()
    assert "Evaluating home_feed@v1 offline against the serving default" in page
    run = EvaluationRun.objects.get()
    gate = run.protocol["gate"]
    assert (gate["strategy"]["name"], gate["default"]["name"]) == ("home_feed@v1", f"home_feed@v{serving.version}")
    assert gate["source"] == "default strategy version home_feed@v1"
    assert run.strategies[STRATEGY]["ndcg@10"] != run.strategies[DEFAULT]["ndcg@10"]


def test_a_stored_version_that_no_longer_parses_is_refused_and_nothing_is_queued(client, operator, monkeypatch):
    ranking_shop()
    broken = DefaultStrategy.objects.create(placement="home_feed", version=1, config={"routes": {"ghost": 1}})
    queued = []
    monkeypatch.setattr(evaluate_strategy, "delay", lambda **kwargs: queued.append(kwargs))

    page = _act(client, DEFAULTS, "evaluate_default_versions", [broken.pk]).content.decode()

    assert "Not evaluated, home_feed@v1: unknown route &#x27;ghost&#x27;" in page
    assert queued == [] and not EvaluationRun.objects.exists()


def test_no_events_is_told_and_nothing_is_queued(client, operator, monkeypatch):
    version = default_strategy_save(placement="search", config={"routes": {"semantic": 1.0}})
    queued = []
    monkeypatch.setattr(evaluate_strategy, "delay", lambda **kwargs: queued.append(kwargs))

    page = _act(client, DEFAULTS, "evaluate_default_versions", [version.pk]).content.decode()

    assert "Not evaluated, search@v1: there are no events to evaluate on" in page
    assert queued == [] and not EvaluationRun.objects.exists()


def test_evaluate_on_an_experiment_queues_each_of_its_variants(admin_client):
    # given an experiment on the home feed: control popularity, treatment fused routes
    ranking_shop()
    experiment = make_experiment(key="feed-test", launch=False)

    page = _act(admin_client, EXPERIMENTS, "evaluate_experiment_variants", [experiment.pk]).content.decode()

    assert "Evaluating feed-test/control, feed-test/treatment offline" in page
    runs = {run.protocol["gate"]["strategy"]["name"]: run for run in EvaluationRun.objects.all()}
    assert set(runs) == {"feed-test/control", "feed-test/treatment"}
    assert runs["feed-test/control"].protocol["gate"]["source"] == "experiment variant feed-test/control (control)"
    assert runs["feed-test/treatment"].protocol["gate"]["strategy"]["config"]["routes"] == {
        "itemcf": 1.0,
        "semantic": 0.5,
        "popularity": 0.1,
    }


def test_too_many_at_once_is_refused(admin_client, monkeypatch):
    ranking_shop()
    experiment = make_experiment(key="wide", launch=False)
    for key in "abcd":
        VariantFactory(experiment=experiment, key=key)
    queued = []
    monkeypatch.setattr(evaluate_strategy, "delay", lambda **kwargs: queued.append(kwargs))

    page = _act(admin_client, EXPERIMENTS, "evaluate_experiment_variants", [experiment.pk]).content.decode()

    assert "Select at most 5 at a time" in page and queued == []


def test_the_run_shows_the_strategy_beside_the_serving_default_with_the_difference(admin_client):
    ranking_shop()
    default_strategy_save(placement="home_feed", config={"routes": {"popularity": 1.0}})
    run = gate_run(config={"routes": {"itemcf": 1.0}}, name="itemcf only", placement="home_feed")
    mine, theirs = run.strategies[STRATEGY]["ndcg@10"], run.strategies[DEFAULT]["ndcg@10"]

    listing = admin_client.get(reverse("admin:recommendations_evaluationrun_changelist")).content.decode()
    detail = admin_client.get(reverse("admin:recommendations_evaluationrun_change", args=[run.pk])).content.decode()

    assert f"itemcf only vs home_feed@v1: NDCG@10 {mine:.4f} vs {theirs:.4f} ({mine - theirs:+.4f})" in listing
    assert "gate-comparison" in detail
    assert f"<td>{mine:.4f}</td><td>{theirs:.4f}</td><td>{mine - theirs:+.4f}</td>" in detail


def test_other_runs_have_no_comparison(admin_client):
    run = EvaluationRun.objects.create(protocol={"split": "cutoff", "k": 10}, strategies={"fused": {"ndcg@10": 0.1}})

    detail = admin_client.get(reverse("admin:recommendations_evaluationrun_change", args=[run.pk])).content.decode()

    assert "gate-comparison" not in detail and "offline gate" not in detail
