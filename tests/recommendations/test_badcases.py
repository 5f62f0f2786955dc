"""Bad cases: feedback API, served-list snapshots, detectors, one-click resolutions, replay."""

import datetime as dt
import json
import uuid

import pytest
from django.core.management import call_command
from django.utils import timezone

from catalog.models import Event, EventType
from recommendations.badcases.detectors import badcases_detect
from recommendations.badcases.models import BadCase, BadCaseResolution, BadCaseSource, BadCaseStatus
from recommendations.badcases.replay import badcase_replay, regression_case
from recommendations.badcases.resolution import badcase_resolve_exclude, badcase_resolve_hide, badcase_triage
from recommendations.contracts import Recommendation, RuleTouch, ScoredItem
from recommendations.models import HiddenItem, MerchRule, ServedList
from recommendations.served import served_list_record, served_lists_prune
from tests.factories import CustomerFactory, EventFactory, MerchRuleFactory

pytestmark = pytest.mark.django_db
FEEDBACK = "/api/v1/feedback/"


def served(*, ids, placement="home_feed", customer="alice", scores=None, context=None, at=None):
    scores = scores or [1.0 - i / 10 for i in range(len(ids))]
    recommendation = Recommendation(
        recommendation_id=uuid.uuid4(),
        strategy="fused",
        items=tuple(
            ScoredItem(product_pk=0, product_id=i, title=i, score=s, routes={"popularity": s}, ranked_score=s)
            for i, s in zip(ids, scores, strict=True)
        ),
    )
    served_list_record(
        recommendation=recommendation,
        placement=placement,
        customer_id=customer,
        context=context or {"k": len(ids)},
        served_at=at,
    )
    return recommendation.recommendation_id


def test_feedback_not_interested_files_a_case_with_the_snapshot_and_hides_the_item(merch_shop, storefront_client):
    # given a served feed, its list recorded after the response
    rule = MerchRuleFactory(kind="boost", item_ids="p3", multiplier=1.01)
    body = storefront_client.get("/api/v1/recommendations/", {"customer": "alice", "k": 4}).json()
    rec_id = body["recommendation_id"]
    assert ServedList.objects.filter(pk=rec_id).exists()
    # when alice says she is not interested in p1
    answer = storefront_client.post(
        FEEDBACK, {"recommendation_id": rec_id, "item": "p1", "reason": "not_interested", "text": "meh"}, format="json"
    )
    # then a case holds the whole list, and p1 is gone from her next feed
    assert answer.status_code == 201
    assert answer.json()["hidden"] is True
    case = BadCase.objects.get(pk=answer.json()["bad_case_id"])
    assert (case.source, case.reason_code, case.customer_external_id, case.placement) == (
        "feedback",
        "not_interested",
        "alice",
        "home_feed",
    )
    assert [i["id"] for i in case.snapshot["items"]] == ["p1", "p2", "p3", "p4"]
    assert case.snapshot["flagged"] == {"id": "p1", "position": 1}
    assert case.snapshot["items"][2]["rules"] == [{"rule": rule.pk, "kind": "boost", "effect": "score ×1.01"}]
    assert case.snapshot["rules"][str(rule.pk)]["multiplier"] == 1.01
    assert case.snapshot["versions"]["embedding_model"]
    next_feed = storefront_client.get("/api/v1/recommendations/", {"customer": "alice", "k": 4}).json()
    assert "p1" not in [i["id"] for i in next_feed["items"]]
    # and the same feedback again stores nothing new
    again = storefront_client.post(
        FEEDBACK, {"recommendation_id": rec_id, "item": "p1", "reason": "not_interested"}, format="json"
    )
    assert again.status_code == 200 and again.json()["bad_case_id"] == case.pk
    assert BadCase.objects.count() == 1


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"item": "p1", "reason": "irrelevant"}, "recommendation_id"),
        ({"recommendation_id": "not-a-uuid", "item": "p1", "reason": "irrelevant"}, "recommendation_id"),
        ({"recommendation_id": str(uuid.uuid4()), "item": "p1", "reason": "irrelevant"}, "recommendation_id"),
        ({"recommendation_id": "KNOWN", "item": "p9", "reason": "irrelevant"}, "item"),
        ({"recommendation_id": "KNOWN", "item": "p1", "reason": "boring"}, "reason"),
        ({"recommendation_id": "KNOWN", "item": "p1", "reason": "other", "text": "x" * 2001}, "text"),
        ({"recommendation_id": "KNOWN", "item": ["p1"], "reason": "other"}, "item"),
    ],
)
def test_bad_feedback_is_a_400_naming_the_field_and_stores_nothing(merch_shop, storefront_client, payload, field):
    known = served(ids=["p1", "p2"])
    payload = {k: (str(known) if v == "KNOWN" else v) for k, v in payload.items()}
    answer = storefront_client.post(FEEDBACK, payload, format="json")
    assert answer.status_code == 400
    assert list(answer.json()["error"]["fields"]) == [field]
    assert BadCase.objects.count() == 0 and HiddenItem.objects.count() == 0


def test_feedback_needs_the_write_events_scope(merch_shop, api_client):
    from tests.factories import make_api_key

    api_client.credentials(HTTP_AUTHORIZATION=f"Api-Key {make_api_key(scopes=['read:recommendations'])}")
    answer = api_client.post(
        FEEDBACK, {"recommendation_id": str(served(ids=["p1"])), "item": "p1", "reason": "other"}, format="json"
    )
    assert answer.status_code == 403


def test_detectors_file_out_of_stock_purchased_and_low_relevance_once(merch_shop):
    # given p2 out of stock since before the list, alice bought p3, and a search whose top is weak
    merch_shop["p2"].in_stock = False
    merch_shop["p2"].save()
    EventFactory(
        customer=CustomerFactory(external_id="carol"),
        product=merch_shop["p3"],
        type=EventType.PURCHASE,
        timestamp=timezone.now() - dt.timedelta(days=2),
    )
    feed_id = served(ids=["p1", "p2", "p3"], customer="carol")
    search_id = served(ids=["p4"], placement="search", scores=[0.12], context={"k": 1, "query": "zzz"})
    fine_id = served(ids=["p5"], placement="search", scores=[0.8], context={"k": 1, "query": "item"})
    # when the detectors run twice
    first = badcases_detect()
    second = badcases_detect()
    # then each finding is filed once
    assert first.lists_scanned == 3 and second.lists_scanned == 0
    found = set(BadCase.objects.values_list("recommendation_id", "source", "product_external_id"))
    assert found == {
        (feed_id, BadCaseSource.OUT_OF_STOCK_SERVED, "p2"),
        (feed_id, BadCaseSource.PURCHASED_SERVED, "p3"),
        (search_id, BadCaseSource.LOW_RELEVANCE, "p4"),
    }
    assert fine_id not in {r for r, _, _ in found}
    low = BadCase.objects.get(source=BadCaseSource.LOW_RELEVANCE)
    assert low.snapshot["evidence"] == {"score": 0.12, "threshold": 0.3}


def test_resolve_with_an_exclude_rule_then_replay_says_fixed(merch_shop):
    # given a feedback case on p1 in alice's feed, triaged
    rec_id = served(ids=["p1", "p2"])
    case = BadCase.objects.create(
        source="feedback",
        reason_code="irrelevant",
        recommendation_id=rec_id,
        customer_external_id="alice",
        product_external_id="p1",
        placement="home_feed",
        snapshot={"context": {"k": 2}},
    )
    assert badcase_replay(case=regression_case(case)).fixed is False
    badcase_triage(case_id=case.pk, assignee_id=None)
    # when resolved with an exclude rule
    case, rule_id = badcase_resolve_exclude(case_id=case.pk)
    # then the rule excludes p1 on the home feed, and the replay finds it fixed
    rule = MerchRule.objects.get(pk=rule_id)
    assert (rule.kind, rule.item_ids, rule.placement, rule.is_active) == ("exclude", "p1", "home_feed", True)
    assert (case.status, case.resolution, case.resolution_ref) == ("resolved", "exclude_rule", f"rule {rule_id}")
    from recommendations.rules.active import rules_forget

    rules_forget()
    outcome = badcase_replay(case=regression_case(case))
    assert outcome.fixed is True and outcome.detail == "no longer served"


def test_hide_resolution_and_the_replay_command_report(merch_shop, tmp_path):
    hide = BadCase.objects.create(
        source="feedback", customer_external_id="alice", product_external_id="p2", placement="home_feed"
    )
    still = BadCase.objects.create(
        source="feedback",
        customer_external_id="alice",
        product_external_id="p3",
        placement="home_feed",
        status=BadCaseStatus.RESOLVED,
        resolution=BadCaseResolution.OTHER,
        snapshot={"context": {"k": 4}},
    )
    badcase_resolve_hide(case_id=hide.pk)
    assert HiddenItem.objects.filter(customer_external_id="alice", product_external_id="p2").exists()
    regression = tmp_path / "regression.jsonl"
    call_command("export_bad_cases", str(regression))
    lines = [json.loads(line) for line in regression.read_text().splitlines()]
    assert [line["id"] for line in lines] == [hide.pk, still.pk]
    out = tmp_path / "replay.json"
    call_command("replay_bad_cases", "--file", str(regression), "--json", str(out), "--quiet")
    report = json.loads(out.read_text())
    assert (report["replayed"], report["fixed"], report["still_failing"]) == (2, 1, 1)
    assert report["cases"][1]["detail"] == "still served at position 2"


def test_served_lists_are_pruned_after_their_retention(merch_shop):
    old = served(ids=["p1"], at=timezone.now() - dt.timedelta(days=31))
    new = served(ids=["p1"])
    assert served_lists_prune(days=30) == 1
    assert list(ServedList.objects.values_list("pk", flat=True)) == [new]
    assert old != new


def test_rule_touch_is_kept_in_the_record(merch_shop):
    recommendation = Recommendation(
        recommendation_id=uuid.uuid4(),
        strategy="fused",
        items=(
            ScoredItem(
                1,
                "p1",
                "t",
                2.0,
                {"itemcf": 1.0},
                1.0,
                (RuleTouch(4, "boost", "score ×2"),),
            ),
        ),
    )
    served_list_record(recommendation=recommendation, placement="home_feed", customer_id="alice")
    row = ServedList.objects.get(pk=recommendation.recommendation_id)
    assert row.items == [
        {
            "id": "p1",
            "position": 1,
            "score": 2.0,
            "ranked_score": 1.0,
            "routes": {"itemcf": 1.0},
            "rules": [{"rule": 4, "kind": "boost", "effect": "score ×2"}],
        }
    ]


def test_purchased_served_compares_the_servers_receipt_time_not_the_clients_clock(merch_shop):
    # given two feeds served an hour ago; then a replay of 2011 purchases arrives for dave, while
    # erin's purchase reached the server two hours ago though her client stamped it just now
    an_hour_ago = timezone.now() - dt.timedelta(hours=1)
    dave_list = served(ids=["p1"], customer="dave", at=an_hour_ago)
    erin_list = served(ids=["p2"], customer="erin", at=an_hour_ago)
    old = dt.datetime(2011, 6, 1, tzinfo=dt.UTC)
    EventFactory(customer=CustomerFactory(external_id="dave"), product=merch_shop["p1"], timestamp=old)
    erin = EventFactory(
        customer=CustomerFactory(external_id="erin"), product=merch_shop["p2"], timestamp=timezone.now()
    )
    Event.objects.filter(pk=erin.pk).update(received_at=timezone.now() - dt.timedelta(hours=2))

    # when
    badcases_detect()

    # then only erin's list served an item the server knew she had bought
    cases = set(
        BadCase.objects.filter(source=BadCaseSource.PURCHASED_SERVED).values_list("recommendation_id", flat=True)
    )
    assert cases == {erin_list}
    assert dave_list not in cases
