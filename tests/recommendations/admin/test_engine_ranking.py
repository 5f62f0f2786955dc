"""Ranker versions in the admin: listed with their metrics, activated by an action."""

from django.urls import reverse

from recommendations.models import RankerModel


def ranker(version, **fields):
    return RankerModel.objects.create(
        name="home",
        version=version,
        feature_set="semantic",
        artifact="model",
        validation_metrics={"ndcg@10": 0.2105, "fused_ndcg@10": 0.2},
        feature_importance={"price": 10.0, "item_popularity_7d": 80.0, "itemcf_score": 30.0, "item_age_days": 5.0},
        **fields,
    )


def test_versions_are_listed_with_metrics_and_top_features(admin_client):
    ranker(1)
    page = admin_client.get(reverse("admin:recommendations_rankermodel_changelist")).content.decode()
    assert "0.2105" in page
    assert "item_popularity_7d, itemcf_score, price" in page


def test_the_activate_action_switches_the_active_version(admin_client):
    # given v1 active and v2 not
    ranker(1, is_active=True)
    v2 = ranker(2)

    # when v2 is activated from the list
    response = admin_client.post(
        reverse("admin:recommendations_rankermodel_changelist"),
        {"action": "activate", "_selected_action": [v2.pk]},
        follow=True,
    )

    # then v2 is the only active version of "home"
    assert response.status_code == 200
    assert list(RankerModel.objects.filter(is_active=True).values_list("version", flat=True)) == [2]


def test_two_versions_of_one_name_cannot_be_activated_together(admin_client):
    v1, v2 = ranker(1), ranker(2)
    response = admin_client.post(
        reverse("admin:recommendations_rankermodel_changelist"),
        {"action": "activate", "_selected_action": [v1.pk, v2.pk]},
        follow=True,
    )
    assert "at most one version per ranker name" in response.content.decode()
    assert not RankerModel.objects.filter(is_active=True).exists()
