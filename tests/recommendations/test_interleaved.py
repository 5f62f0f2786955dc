"""An interleaving experiment through the API: the feed merges both variants' lists (team-draft),
the exposure and served list name each item's team, and a click sent back is credited to it."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.utils import timezone

from experiments.interleaving import TEAM_A, team_draft
from experiments.interleaving_dashboard import interleaving_dashboard
from experiments.models import Exposure, Kind
from experiments.selectors import exposure_attribution
from experiments.services import ExperimentError, experiment_launch
from experiments.serving import running_experiments_forget
from recommendations.models import ServedList
from recommendations.rules.active import rules_forget
from tests.factories import ExperimentFactory, MerchRuleFactory, VariantFactory

pytestmark = pytest.mark.django_db

RECOMMENDATIONS = "/api/v1/recommendations/"
EVENTS = "/api/v1/events/"
# With p1 excluded by a rule, the control (rules on) serves p2..p5 and the challenger (rules off) p1..p4.
CONTROL_LIST = ["p2", "p3", "p4", "p5"]
CHALLENGER_LIST = ["p1", "p2", "p3", "p4"]


@pytest.fixture(autouse=True)
def fresh_serving_snapshot():
    """No running experiment cached in the process outlives its test."""
    running_experiments_forget()
    yield
    running_experiments_forget()


def launch_interleaving(merch_shop, key: str = "inter"):
    MerchRuleFactory(kind="exclude", item_ids="p1", multiplier=None)
    rules_forget()
    experiment = ExperimentFactory(key=key, placement="home_feed", kind=Kind.INTERLEAVING)
    VariantFactory(experiment=experiment, key="control", is_control=True, config={"routes": {"popularity": 1}})
    VariantFactory(experiment=experiment, key="challenger", config={"routes": {"popularity": 1}, "rules": False})
    return experiment_launch(experiment_id=experiment.pk)


def test_feed_in_an_interleaving_experiment_is_the_team_draft_merge_and_a_click_is_credited(
    storefront_client, merch_shop
):
    # given an interleaving experiment of two strategies whose lists differ
    experiment = launch_interleaving(merch_shop)
    # when alice asks for her feed
    response = storefront_client.get(RECOMMENDATIONS, {"customer": "alice", "k": 4})
    # then the list is the experiment's merge, with no single variant
    body = response.json()
    assert response.status_code == 200
    assert (body["experiment"], body["variant"], body["strategy"]) == ("inter", None, "inter/interleaved")
    served = [item["id"] for item in body["items"]]
    assert len(served) == 4 == len(set(served))
    # and it is the team-draft merge of the two lists, seeded by the served list's id (reproducible)
    rec_id = uuid.UUID(body["recommendation_id"])
    merged = team_draft(a=CONTROL_LIST, b=CHALLENGER_LIST, k=4, seed=rec_id.int)
    expected = [(item, "control" if team == TEAM_A else "challenger") for item, team in merged]
    assert served == [item for item, _ in expected]
    # and the exposure and the served list keep each item's team; p1 can only be the challenger's
    exposure = Exposure.objects.get(recommendation_id=rec_id)
    assert exposure.variant is None
    assert [(i["id"], i["team"]) for i in exposure.items] == expected
    assert dict(expected)["p1"] == "challenger"
    served_list = ServedList.objects.get(recommendation_id=rec_id)
    assert [(i["id"], i["team"]) for i in served_list.items] == expected
    # when the storefront sends a click on p1 with the list's id
    click = {
        "event_id": "click-p1",
        "customer": "alice",
        "product": "p1",
        "type": "click",
        "timestamp": timezone.now().isoformat(),
        "recommendation_id": str(rec_id),
    }
    assert storefront_client.post(EVENTS, [click], format="json").status_code == 201
    # then the click is credited to the challenger: alice prefers it
    dashboard = interleaving_dashboard(experiment_id=experiment.pk, now=timezone.now() + dt.timedelta(seconds=1))
    assert (dashboard.team_a, dashboard.team_b) == ("control", "challenger")
    assert (dashboard.customers, dashboard.lists, dashboard.clicks_a, dashboard.clicks_b) == (1, 1, 0, 1)
    assert (dashboard.result.wins_a, dashboard.result.wins_b, dashboard.result.ties) == (0, 1, 0)
    assert [(e.product_id, e.team) for e in exposure_attribution(recommendation_id=rec_id).events] == [
        ("p1", "challenger")
    ]


def test_an_interleaving_experiment_needs_exactly_two_variants(merch_shop):
    experiment = ExperimentFactory(key="three", kind=Kind.INTERLEAVING)
    VariantFactory(experiment=experiment, key="control", is_control=True)
    VariantFactory(experiment=experiment, key="b")
    VariantFactory(experiment=experiment, key="c")
    with pytest.raises(ExperimentError, match="exactly two variants"):
        experiment_launch(experiment_id=experiment.pk)
