"""The back office in the admin: rules (checks, dry run, history), preview, review queue, roles."""

from __future__ import annotations

import json

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group
from django.urls import reverse

from recommendations.badcases.models import BadCase, BadCaseStatus
from recommendations.models import MerchRule
from recommendations.rules.active import rules_forget
from tests.factories import EventFactory, MerchRuleFactory

pytestmark = pytest.mark.django_db

RULE_FORM = {
    "name": "",
    "kind": "pin",
    "is_active": "on",
    "placement": "",
    "segment_key": "",
    "segment_value": "",
    "item_ids": "",
    "target_brand": "",
    "target_attribute": "",
    "target_attribute_value": "",
}


def test_a_pin_without_position_is_refused_naming_the_field(admin_client, merch_shop):
    url = reverse("admin:recommendations_merchrule_add")
    answer = admin_client.post(url, {**RULE_FORM, "name": "pin p6", "product": merch_shop["p6"].pk})
    assert answer.status_code == 200
    assert "position" in answer.context["adminform"].form.errors
    assert MerchRule.objects.count() == 0


def test_saving_a_rule_logs_who_changed_it_and_serves_it(admin_client, admin_user, merch_shop, admin_jobs_inline):
    url = reverse("admin:recommendations_merchrule_add")
    form = {**RULE_FORM, "name": "pin p6", "product": merch_shop["p6"].pk, "position": "1"}
    answer = admin_client.post(url, form)
    assert answer.status_code == 302
    rule = MerchRule.objects.get()
    entry = LogEntry.objects.get(object_id=str(rule.pk))
    assert entry.user == admin_user and entry.is_addition()
    rules_forget()  # the admin does it on commit; the test's transaction never commits
    preview = admin_client.post(reverse("admin:recommendations_preview"), {"customer": "alice", "k": 3}, follow=True)
    rows = preview.context["result"]["rows"]
    assert [row[1] for row in rows] == ["p6", "p1", "p2"]
    assert rows[0][5] == f"#{rule.pk} pin: pinned at 1"


def test_dry_run_counts_live_candidates_without_saving(admin_client, merch_shop, storefront_client, admin_jobs_inline):
    for customer in ("alice", "bob"):
        storefront_client.get("/api/v1/recommendations/", {"customer": customer, "k": 4})
    form = {**RULE_FORM, "name": "bury acme", "kind": "bury", "target_brand": "Acme", "multiplier": "0.5"}
    answer = admin_client.post(reverse("admin:recommendations_merchrule_dryrun"), form, follow=True)
    result = answer.context["job"].result
    # Acme is p1, p3, p5 (all in stock); the two feeds served p1..p4: two Acme items each
    assert [result[key] for key in ("matching_products", "lists_checked", "lists_affected", "items_affected")] == [
        3,
        2,
        2,
        4,
    ]
    assert result["summary"] == (
        "Of the latest 2 lists served on every placement, 2 would change: 4 served items would be lowered ×0.5. "
        "3 in-stock products match its targets."
    )
    # Two examples, replayed from the served scores: the Acme items fall behind the others.
    assert len(result["examples"]) == 2
    assert [(before, after) for _, before, after in result["examples"][0]["rows"]] == [
        ("Item 1", "Item 2"),
        ("Item 2", "Item 4"),
        ("Item 3", "Item 1"),
        ("Item 4", "Item 3"),
    ]
    assert "would be lowered" in answer.content.decode()
    assert MerchRule.objects.count() == 0


def test_preview_shows_stages_history_and_similar_and_search_errors(admin_client, merch_shop, admin_jobs_inline):
    EventFactory(customer__external_id="dora", product=merch_shop["p5"], type="view")
    page = admin_client.post(reverse("admin:recommendations_preview"), {"customer": "dora", "k": 2}, follow=True)
    result = page.context["result"]
    assert result["headers"][:4] == ["#", "item", "title", "proposed by (route: normalised score)"]
    assert result["headers"][-1] == "reason"
    assert [h["product_id"] for h in result["history"]] == ["p5"]
    assert b"preview-table" in page.content
    missing = admin_client.post(
        reverse("admin:recommendations_preview"), {"placement": "similar_items", "product": "nope"}, follow=True
    )
    assert missing.context["error"] == "No product with id 'nope'."
    customers = admin_client.get(reverse("admin:recommendations_preview_customers"), {"q": "ali"}).json()
    assert customers == {"customers": ["alice"]}


def test_review_queue_resolves_with_an_exclude_rule_in_one_click(admin_client, merch_shop):
    case = BadCase.objects.create(
        source="feedback",
        reason_code="irrelevant",
        customer_external_id="alice",
        product_external_id="p2",
        placement="home_feed",
        snapshot={"items": [{"id": "p2", "position": 1, "score": 0.9, "routes": {"popularity": 1.0}, "rules": []}]},
    )
    url = reverse("admin:recommendations_badcase_change", args=[case.pk])
    page = admin_client.get(url)
    assert b'id="resolve-exclude"' in page.content and b'class="flagged"' in page.content
    answer = admin_client.post(url, {"status": "triaged", "notes": "obviously off", "_resolve_exclude": "1"})
    assert answer.status_code == 302
    case.refresh_from_db()
    rule = MerchRule.objects.get()
    assert (case.status, case.notes, case.resolution_ref) == ("resolved", "obviously off", f"rule {rule.pk}")
    assert rule.item_id_list() == ("p2",)
    assert LogEntry.objects.filter(object_id=str(case.pk), change_message__contains="exclude rule").exists()


def test_a_guardrail_case_opens_the_template_version_that_wrote_it(admin_client, merch_shop):
    from tests.recommendations.reasons_fixtures import default_templates

    template = default_templates()["reason"]
    case = BadCase.objects.create(
        source="reason_guardrail",
        reason_code="unknown_product",
        product_external_id="p2",
        snapshot={"template_version": template.active_version_id, "prompt": "…"},
    )

    page = admin_client.get(reverse("admin:recommendations_badcase_change", args=[case.pk]))

    link = reverse("admin:recommendations_prompttemplate_change", args=[template.pk])
    assert f'<a href="{link}" id="open-template">'.encode() in page.content


def test_export_action_downloads_the_resolved_cases(admin_client, merch_shop):
    done = BadCase.objects.create(source="feedback", product_external_id="p1", status=BadCaseStatus.RESOLVED)
    BadCase.objects.create(source="feedback", product_external_id="p2")
    answer = admin_client.post(
        reverse("admin:recommendations_badcase_changelist"),
        {"action": "export_regression_set", "_selected_action": [c.pk for c in BadCase.objects.all()]},
    )
    lines = [json.loads(line) for line in answer.content.decode().splitlines()]
    assert [line["id"] for line in lines] == [done.pk]


@pytest.mark.parametrize(
    "group, allowed, forbidden",
    [
        (
            "Merchandisers",
            [
                "recommendations_merchrule_add",
                "catalog_product_changelist",
                "recommendations_preview",
                "recommendations_badcase_changelist",
            ],
            ["experiments_experiment_add", "recommendations_prompttemplate_add"],
        ),
        (
            "Operators",
            [
                "experiments_experiment_add",
                "recommendations_rankermodel_changelist",
                "recommendations_badcase_changelist",
                "recommendations_prompttemplate_add",
                "recommendations_prompttemplate_changelist",
            ],
            ["recommendations_merchrule_add", "catalog_product_add"],
        ),
    ],
)
def test_roles_created_by_the_migration_grant_their_pages(
    client, django_user_model, merch_shop, group, allowed, forbidden
):
    user = django_user_model.objects.create_user("someone", password="pw-12345678", is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    client.force_login(user)
    for name in allowed:
        assert client.get(reverse(f"admin:{name}")).status_code == 200, name
    for name in forbidden:
        assert client.get(reverse(f"admin:{name}")).status_code == 403, name


def test_rule_list_shows_targets(admin_client, merch_shop):
    MerchRuleFactory(kind="boost", target_brand="Acme", item_ids="p1,p3")
    page = admin_client.get(reverse("admin:recommendations_merchrule_changelist"))
    assert "p1, p3 · Acme" in page.content.decode()
