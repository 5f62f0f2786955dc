"""Experiments admin: the split of a launched experiment cannot be edited; lifecycle actions."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from experiments.models import Experiment, Layer, Status, Variant
from tests.factories import make_experiment

pytestmark = pytest.mark.django_db


def change_form_data(experiment: Experiment, weights: dict[str, float]) -> dict:
    variants = list(experiment.variants.order_by("pk"))
    data = {
        "key": experiment.key,
        "hypothesis": "fused beats popularity",
        "placement": experiment.placement,
        "layer": experiment.layer,
        "traffic_share": "1.0",
        "salt": experiment.salt,
        "primary_metric": "ctr",
        "kind": "ab",
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
        "draft: Layer 'home_feed' has 0% of its traffic free (other experiments and the holdout hold the rest); "
        "this experiment needs 100%. Lower its traffic share, or complete another experiment of the layer."
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


def test_admin_refuses_an_unknown_guardrail_metric_and_names_the_field(admin_client):
    # given a draft, saved with a guardrail on a metric that does not exist
    experiment = make_experiment(key="feed", launch=False)
    data = change_form_data(experiment, {}) | {"guardrail_metrics": ["conversion_rate", "bounce_rate"]}
    response = admin_client.post(f"/admin/experiments/experiment/{experiment.pk}/change/", data)
    # then the form comes back with the error on that field, and nothing is stored
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["guardrail_metrics"]
    assert "bounce_rate is not one of the available choices" in errors["guardrail_metrics"][0]
    assert Experiment.objects.get(pk=experiment.pk).guardrail_metrics == []


def test_the_model_refuses_an_unknown_guardrail_metric_outside_the_admin_too():
    experiment = make_experiment(key="feed", launch=False)
    experiment.guardrail_metrics = ["ctr", "bounce_rate"]
    with pytest.raises(ValidationError) as refused:
        experiment.full_clean()
    assert refused.value.message_dict == {
        "guardrail_metrics": [
            "Unknown guardrail metric(s): bounce_rate; choose from ctr, add_to_cart_rate, conversion_rate, "
            "revenue_per_customer."
        ]
    }


def test_admin_saves_guardrails_with_stop_on_breach(admin_client):
    experiment = make_experiment(key="feed", launch=False)
    data = change_form_data(experiment, {}) | {"guardrail_metrics": ["conversion_rate"], "guardrail_stop": "on"}
    response = admin_client.post(f"/admin/experiments/experiment/{experiment.pk}/change/", data)
    assert response.status_code == 302
    experiment.refresh_from_db()
    assert (experiment.guardrail_metrics, experiment.guardrail_stop) == (["conversion_rate"], True)


def test_the_list_health_column_mentions_a_breach(admin_client):
    experiment = make_experiment(key="feed")
    Experiment.objects.filter(pk=experiment.pk).update(
        guardrail_breach={
            "detected_at": "2026-03-10T12:00:00+00:00",
            "as_of": "2026-03-10",
            "paused": True,
            "breaches": [
                {
                    "metric": "conversion_rate",
                    "variant": "treatment",
                    "control": 0.2,
                    "treatment": 0.1,
                    "effect": -0.1,
                    "relative": -0.5,
                    "ci": [-0.15, -0.05],
                    "p_value": 0.001,
                }
            ],
        }
    )
    page = admin_client.get("/admin/experiments/experiment/").content.decode()
    assert "GUARDRAIL BREACHED (conversion_rate of treatment; paused); no data yet" in page
    change = admin_client.get(f"/admin/experiments/experiment/{experiment.pk}/change/").content.decode()
    assert "Guardrail breached: Conversion rate of treatment -50.0% against the control" in change


def test_a_layers_holdout_cannot_move_while_its_experiments_are_launched(admin_client):
    make_experiment(key="running")
    layer = Layer.objects.get(key="home_feed")
    url = f"/admin/experiments/layer/{layer.pk}/change/"

    refused = admin_client.post(url, {"holdout_share": "0.2"})
    listing = admin_client.get("/admin/experiments/layer/").content.decode()

    assert "a new holdout would move their customers" in refused.content.decode()
    assert Layer.objects.get(pk=layer.pk).holdout_share == 0.0
    assert "running" in listing
