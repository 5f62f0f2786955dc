"""Evaluation runs in the admin: listed with their main metrics, read-only."""

from django.urls import reverse

from recommendations.models import EvaluationRun


def test_runs_are_listed_with_metrics_and_read_only(admin_client):
    # given
    run = EvaluationRun.objects.create(
        protocol={"split": "cutoff", "cutoff": "2011-11-01T00:00:00+00:00", "k": 10, "users_evaluated": 7},
        strategies={"fused": {"ndcg@10": 0.081, "recall@10": 0.049}},
        duration_s=3.0,
    )

    # when
    listing = admin_client.get(reverse("admin:recommendations_evaluationrun_changelist"))
    detail = admin_client.get(reverse("admin:recommendations_evaluationrun_change", args=[run.pk]))

    # then
    assert listing.status_code == 200
    assert "fused 0.0810" in listing.content.decode()
    assert "fused 0.0490" in listing.content.decode()
    assert detail.status_code == 200
    assert b'name="_save"' not in detail.content
    assert admin_client.get(reverse("admin:recommendations_evaluationrun_add")).status_code == 403
