"""Prompt templates: versions (drafts until published), diff, publish and roll back, the pool
serving published versions only, and the admin (edit, diff, preview, publish)."""

import pytest

from recommendations.reasons.models import PromptTemplate, PromptTemplateVersion
from recommendations.reasons.pool import active_templates, active_templates_forget
from recommendations.reasons.templates import (
    TemplateError,
    template_create,
    template_render,
    template_version_activate,
    template_version_create,
    template_version_publish,
    template_versions_diff,
)
from tests.recommendations.reasons_fixtures import default_templates, make_shop

pytestmark = pytest.mark.django_db


def test_every_save_is_a_new_version_and_rollback_serves_an_old_one():
    template = template_create(name="warm", body="v1 body", grounded="Hi")
    second = template_version_create(
        template_id=template.pk, body="v2 body", grounded="Hello", note="warmer", publish=True
    )
    template.refresh_from_db()
    assert (second.version, template.active_version_id) == (2, second.pk)

    first = template.versions.get(version=1)
    template = template_version_activate(version_id=first.pk)
    assert template.active_version_id == first.pk
    assert list(template.versions.values_list("version", flat=True)) == [2, 1]


def test_diff_shows_removed_and_added_lines():
    template = template_create(name="d", body="line one\nline two", grounded="g")
    new = template_version_create(template_id=template.pk, body="line one\nline 2", grounded="g")
    old = template.versions.get(version=1)
    diff = template_versions_diff(old_id=old.pk, new_id=new.pk)
    assert "-line two" in diff.splitlines()
    assert "+line 2" in diff.splitlines()


def test_a_broken_template_is_refused_and_nothing_stored():
    template = template_create(name="b", body="ok", grounded="ok")
    with pytest.raises(TemplateError, match="syntax"):
        template_version_create(template_id=template.pk, body="{% if %}", grounded="")
    assert template.versions.count() == 1


def test_rendering_does_not_escape_or_execute_catalog_text():
    out = template_render(source="Item: {{ item.title }}", variables={"item": {"title": "R&D {{ x }} <b>"}})
    assert out == "Item: R&D {{ x }} <b>"


def served_version_ids(template: PromptTemplate) -> set[int]:
    active_templates_forget()
    return {t.version_id for t in active_templates() if t.id == template.pk}


def test_a_new_version_is_a_draft_the_pool_does_not_serve_until_published(django_user_model):
    # given a served template and an operator
    template = template_create(name="warm", body="v1 body", grounded="Hi")
    first = template.active_version
    operator = django_user_model.objects.create_user("olga")
    # when a new version is saved
    draft = template_version_create(template_id=template.pk, body="v2 body", grounded="Hello")
    # then it is a draft, and the pool still serves v1
    assert draft.is_draft
    assert served_version_ids(template) == {first.pk}
    # and a draft cannot be rolled back to, only published
    with pytest.raises(TemplateError, match="draft"):
        template_version_activate(version_id=draft.pk)
    # when the operator publishes it
    template_version_publish(version_id=draft.pk, user_id=operator.pk)
    # then it is served, with who and when kept
    draft.refresh_from_db()
    assert (draft.published_by, draft.published_at is not None) == (operator, True)
    assert served_version_ids(template) == {draft.pk}
    # and rolling back serves v1 again, keeping v2's publication
    template_version_activate(version_id=first.pk)
    assert served_version_ids(template) == {first.pk}
    draft.refresh_from_db()
    assert draft.published_by == operator


def test_the_migrations_default_templates_are_published():
    assert PromptTemplateVersion.objects.filter(template__name="default-reason", published_at__isnull=True).count() == 0


def test_admin_edit_stores_a_draft_and_diff_publish_and_rollback_work(admin_client):
    template = template_create(name="adm", body="first body", grounded="First")
    data = {"name": "adm", "purpose": "reason", "placement": "home_feed", "is_active": "on"}
    data |= {"body": "second body", "grounded": "Second", "note": "edited"}
    data |= {"versions-TOTAL_FORMS": "1", "versions-INITIAL_FORMS": "1", "versions-MIN_NUM_FORMS": "0"}
    data |= {"versions-MAX_NUM_FORMS": "1000", "versions-0-id": str(template.active_version_id)}
    data |= {"versions-0-template": str(template.pk)}
    response = admin_client.post(f"/admin/recommendations/prompttemplate/{template.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    template.refresh_from_db()
    new = template.versions.get(version=2)
    assert (new.body, new.published_at, template.active_version.version) == ("second body", None, 1)

    old = template.versions.get(version=1)
    diff = admin_client.get(
        f"/admin/recommendations/prompttemplate/{template.pk}/diff/", {"old": old.pk, "new": new.pk}
    )
    assert "+second body" in diff.content.decode() and "-first body" in diff.content.decode()

    publish = admin_client.post(f"/admin/recommendations/prompttemplate/{template.pk}/versions/{new.pk}/publish/")
    assert publish.status_code == 302
    template.refresh_from_db()
    assert template.active_version_id == new.pk
    assert template.active_version.published_by.username == "admin"

    rollback = admin_client.post(f"/admin/recommendations/prompttemplate/{template.pk}/versions/{old.pk}/activate/")
    assert rollback.status_code == 302
    template.refresh_from_db()
    assert template.active_version_id == old.pk


def test_admin_refuses_a_template_that_does_not_compile(admin_client):
    response = admin_client.post(
        "/admin/recommendations/prompttemplate/add/",
        {
            "name": "bad",
            "purpose": "reason",
            "placement": "home_feed",
            "body": "{% for %}",
            "grounded": "",
            "versions-TOTAL_FORMS": "0",
            "versions-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert "template syntax error" in response.content.decode()
    assert not PromptTemplate.objects.filter(name="bad").exists()


def test_admin_preview_renders_the_prompt_and_the_grounded_output(admin_client, admin_jobs_inline):
    template = default_templates()["reason"]
    make_shop()
    response = admin_client.post(
        f"/admin/recommendations/prompttemplate/{template.pk}/preview/",
        {"customer": "alice", "product": "teapot"},
        follow=True,
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "Product: Blue Teapot" in page
    assert "people who bought White Mug also bought it" in page
    assert 'class="output">Because you bought White Mug<' in page


def test_admin_preview_names_an_unknown_customer(admin_client, admin_jobs_inline):
    template = default_templates()["reason"]
    response = admin_client.post(
        f"/admin/recommendations/prompttemplate/{template.pk}/preview/", {"customer": "zed"}, follow=True
    )
    assert "no customer with id &#x27;zed&#x27;" in response.content.decode()


def test_versions_are_listed_on_the_change_page(admin_client):
    template = template_create(name="listed", body="b", grounded="g")
    template_version_create(template_id=template.pk, body="b2", grounded="g")
    page = admin_client.get(f"/admin/recommendations/prompttemplate/{template.pk}/change/").content.decode()
    assert "diff with served" in page and ">publish</button>" in page and "draft (not served)" in page
    assert PromptTemplateVersion.objects.filter(template=template).count() == 2


def test_admin_preview_with_the_openai_backend_shows_the_generated_output_and_verdict(
    admin_client, settings, admin_jobs_inline
):
    from recommendations.reasons.backend_choice import _backend
    from tests.recommendations.reasons_fixtures import ChatServer

    template = default_templates()["reason"]
    make_shop()
    with ChatServer(lambda prompt: (200, "Now only £1.00 with your mug!")) as server:
        settings.REASON_OPENAI_URL, settings.REASON_OPENAI_MODEL = server.url, "tiny-chat"
        _backend.cache_clear()
        try:
            response = admin_client.post(
                f"/admin/recommendations/prompttemplate/{template.pk}/preview/",
                {"customer": "alice", "product": "teapot", "backend": "openai"},
                follow=True,
            )
        finally:
            _backend.cache_clear()
    page = response.content.decode()
    assert 'class="output">Now only £1.00 with your mug!<' in page
    assert "rejected: wrong_price" in page
