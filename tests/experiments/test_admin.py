"""Experiments admin: the split of a launched experiment cannot be edited; lifecycle actions."""

from __future__ import annotations

import pytest

from experiments.models import Experiment, Status, Variant
from tests.factories import make_experiment

pytestmark = pytest.mark.django_db


def change_form_data(experiment: Experiment, weights: dict[str, float]) -> dict:
    variants = list(experiment.variants.order_by("pk"))
    data = {
        "key": experiment.key,
        "hypothesis": "fused beats popularity",
        "placement": experiment.placement,
        "traffic_share": "1.0",
        "salt": experiment.salt,
        "primary_metric": "ctr",
        "variants-TOTAL_FORMS": str(len(variants)),
        "variants-INITIAL_FORMS": str(len(variants)),
        "variants-MIN_NUM_FORMS": "0",
        "variants-MAX_NUM_FORMS": "1000",
    }
    for i, v in enumerate(variants):
        data |= {
            f"variants-{i}-id": str(v.pk),
            f"variants-{i}-experiment": str(experiment.pk),
            f"variants-{i}-key": v.key,
            f"variants-{i}-weight": str(weights.get(v.key, v.weight)),
            f"variants-{i}-config": '{"routes": {"popularity": 1}}',
        }
        if v.is_control:
            data[f"variants-{i}-is_control"] = "on"
    return data


def test_admin_refuses_a_weight_change_on_a_running_experiment(admin_client):
    # given a running experiment
    experiment = make_experiment(key="feed")
    # when an operator saves it with a new treatment weight
    response = admin_client.post(
        f"/admin/experiments/experiment/{experiment.pk}/change/", change_form_data(experiment, {"treatment": 3.0})
    )
    # then the form comes back with the explanation and nothing is stored
    assert response.status_code == 200
    assert "would break the sample ratio" in response.content.decode()
    assert Variant.objects.get(experiment=experiment, key="treatment").weight == 1.0


def test_admin_accepts_a_weight_change_on_a_draft(admin_client):
    experiment = make_experiment(key="feed", launch=False)
    response = admin_client.post(
        f"/admin/experiments/experiment/{experiment.pk}/change/", change_form_data(experiment, {"treatment": 3.0})
    )
    assert response.status_code == 302
    assert Variant.objects.get(experiment=experiment, key="treatment").weight == 3.0


def test_admin_refuses_an_unknown_route(admin_client):
    experiment = make_experiment(key="feed", launch=False)
    data = change_form_data(experiment, {})
    data["variants-1-config"] = '{"routes": {"telepathy": 1}}'
    response = admin_client.post(f"/admin/experiments/experiment/{experiment.pk}/change/", data)
    assert response.status_code == 200
    assert "unknown route &#x27;telepathy&#x27;" in response.content.decode()


def test_admin_actions_move_experiments_through_their_lifecycle(admin_client):
    # given a draft and a running experiment on the same placement
    running = make_experiment(key="running")
    draft = make_experiment(key="draft", launch=False)
    # when the operator launches the draft: refused, the other one runs
    response = admin_client.post(
        "/admin/experiments/experiment/", {"action": "experiment_launch", "_selected_action": [draft.pk]}, follow=True
    )
    assert [str(m) for m in response.context["messages"]] == [
        "draft: Experiment 'running' is already running on home feed; "
        "pause or complete it first (one running experiment per placement)."
    ]
    # when the running one is completed and the draft launched
    admin_client.post(
        "/admin/experiments/experiment/", {"action": "experiment_complete", "_selected_action": [running.pk]}
    )
    admin_client.post("/admin/experiments/experiment/", {"action": "experiment_launch", "_selected_action": [draft.pk]})
    # then the statuses follow
    assert dict(Experiment.objects.values_list("key", "status")) == {
        "running": Status.COMPLETED,
        "draft": Status.RUNNING,
    }
