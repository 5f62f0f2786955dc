"""Prompt templates run in a sandbox: plain data only, no tag that reaches outside the template
(refused when it compiles, in the services and the admin), and a template that fails while
rendering never fails a request."""

from decimal import Decimal

import pytest
from prometheus_client import REGISTRY

from catalog.models import Product
from placements.public import Strategy
from recommendations.contracts import RecRequest
from recommendations.pipeline import recommend
from recommendations.reasons.generation import ReasonSpec, reasons_generate
from recommendations.reasons.models import Generation, PromptTemplate, Purpose
from recommendations.reasons.openai_api import OpenAIBackend
from recommendations.reasons.pool import active_templates_forget
from recommendations.reasons.sandbox import plain_data
from recommendations.reasons.templates import (
    DEFAULT_REASON_BODY,
    TemplateError,
    template_create,
    template_render,
    template_version_create,
)
from tests.factories import ProductFactory
from tests.recommendations.reasons_fixtures import ChatServer, default_templates, make_shop

pytestmark = pytest.mark.django_db

VARIABLES = {
    "item": {"id": "teapot", "title": "blue teapot", "price": "12.50"},
    "route": "itemcf",
    "seed": None,
    "recent_items": [{"id": "mug", "title": "white mug"}],
    "rules": [],
}
# (template, what the refusal says)
HOSTILE = [
    ("{% load static %}", "{% load %} is not allowed in prompt templates"),
    ('{% include "recsite/settings.py" %}', "{% include %} is not allowed"),
    ('{% extends "admin/base.html" %}', "{% extends %} is not allowed"),
    ("{% block b %}x{% endblock %}", "{% block %} is not allowed"),
    ("{% debug %}", "{% debug %} is not allowed"),
    ('{% url "admin:index" %}', "{% url %} is not allowed"),
    ("{% csrf_token %}", "{% csrf_token %} is not allowed"),
    ("{% querystring page=2 %}", "{% querystring %} is not allowed"),
    ('{% ssi "/etc/passwd" %}', "Invalid block tag on line 1: 'ssi'"),
    ("{{ item.__class__ }}", "may not begin with underscores"),
    ("{{ item.title.upper.__self__ }}", "may not begin with underscores"),
    ("{% for c in item.__class__.__base__.__subclasses__ %}{{ c }}{% endfor %}", "may not begin with underscores"),
    ("{{ item|default:item.__dict__ }}", "may not begin with underscores"),
]


@pytest.mark.parametrize(("source", "message"), HOSTILE)
def test_a_tag_or_attribute_reaching_outside_the_template_is_refused_when_it_compiles(source, message):
    with pytest.raises(TemplateError, match="template syntax error") as refused:
        template_render(source=source, variables=VARIABLES)
    assert message in str(refused.value)


def test_no_hostile_template_is_stored_as_a_body_or_a_grounded_text():
    template = template_create(name="sandboxed", body="ok", grounded="ok")
    for source, _ in HOSTILE:
        with pytest.raises(TemplateError):
            template_version_create(template_id=template.pk, body=source, grounded="")
        with pytest.raises(TemplateError):
            template_version_create(template_id=template.pk, body="ok", grounded=source)
    assert template.versions.count() == 1


def test_settings_and_objects_the_template_was_not_given_render_as_nothing():
    source = "[{{ settings.SECRET_KEY }}|{{ request.META }}|{{ user.password }}|{{ item.objects.all }}|{{ view }}]"
    out = template_render(source=source, variables=VARIABLES)
    assert out == "[||||]"
    assert template_render(source="{% firstof settings.SECRET_KEY 'none' %}", variables={}) == "none"


def test_attribute_walking_reaches_only_the_data_handed_over():
    # every reachable attribute of plain data is the data itself or a harmless str/dict method
    out = template_render(
        source="{% for k, v in item.items %}{{ k }}={{ v }};{% endfor %}{{ item.title.upper }}{{ item.title.format }}",
        variables=VARIABLES,
    )
    assert out == "id=teapot;title=blue teapot;price=12.50;BLUE TEAPOTblue teapot"


def test_a_method_with_side_effects_changes_only_the_renders_own_copy():
    variables = {"item": {"title": "blue teapot"}, "recent_items": [{"title": "white mug"}]}
    out = template_render(source="{{ item.clear }}{{ recent_items.pop }}[{{ item.title }}]", variables=variables)
    # the template emptied its copy during its render...
    assert out.endswith("[]")
    # ...and the caller's data, and the next render, are untouched
    assert variables == {"item": {"title": "blue teapot"}, "recent_items": [{"title": "white mug"}]}
    assert template_render(source="{{ item.title }}", variables=variables) == "blue teapot"


def test_a_model_instance_cannot_be_handed_to_a_template_so_delete_cannot_be_called():
    product = ProductFactory(external_id="victim")
    with pytest.raises(TypeError, match="plain data .* not Product"):
        template_render(source="{{ item.delete }}", variables={"item": product})
    with pytest.raises(TypeError, match="not QuerySet"):
        template_render(source="{{ items.delete }}", variables={"items": {"all": Product.objects.all()}})
    assert Product.objects.filter(external_id="victim").exists()


def test_plain_data_copies_containers_and_reduces_subclasses_to_their_base_type():
    value = {"purpose": Purpose.REASON, "price": Decimal("12.50"), "ids": ("a", "b"), "n": True, "x": 1.5}
    copied = plain_data(value)
    assert copied == {"purpose": "reason", "price": "12.50", "ids": ["a", "b"], "n": True, "x": 1.5}
    assert type(copied["purpose"]) is str
    with pytest.raises(TypeError, match="keys must be strings"):
        plain_data({1: "a"})


def test_the_documented_variables_are_plain_data():
    from recommendations.reasons.basis import Basis, reason_variables
    from recommendations.reasons.facts import product_facts

    shop = make_shop()
    facts = product_facts(pks=[shop["teapot"].pk, shop["mug"].pk])
    variables = reason_variables(
        item=facts[shop["teapot"].pk],
        basis=Basis("itemcf", shop["mug"].pk),
        seed=facts[shop["mug"].pk],
        recent=[facts[shop["mug"].pk]],
        rules=["pinned at 1"],
    )
    assert plain_data(variables) == variables


def _fallbacks(reason: str) -> float:
    return REGISTRY.get_sample_value("recsite_fallbacks_total", {"stage": "reasons", "reason": reason}) or 0.0


def test_a_grounded_text_failing_at_run_time_serves_the_built_in_reason(storefront_client):
    # given an operator's grounded text that compiles but fails on every render
    template = default_templates()["reason"]
    make_shop()
    template_version_create(
        template_id=template.pk, body=DEFAULT_REASON_BODY, grounded="{{ route|divisibleby:2 }}", publish=True
    )
    active_templates_forget()
    before = _fallbacks("template_error")
    # when the feed is served, through the pipeline and through the API
    feed = recommend(request=RecRequest(customer_id="alice", k=10), strategy=Strategy(routes={"itemcf": 1.0}))
    answer = storefront_client.get("/api/v1/recommendations/", {"customer": "alice", "k": 10})
    # then every item has the built-in grounded reason, and the failure is counted
    assert {item.reason for item in feed.items} == {"Because you bought White Mug"}
    assert answer.status_code == 200
    items = {item["id"]: item for item in answer.json()["items"]}
    assert (items["teapot"]["reason"], items["teapot"]["reason_source"]) == ("Because you bought White Mug", "grounded")
    assert _fallbacks("template_error") - before >= len(feed.items)


def test_a_body_failing_at_run_time_is_not_sent_nor_cached():
    shop = make_shop()
    template = template_create(name="failing", body="{{ route|divisibleby:2 }}", grounded="")
    before = _fallbacks("template_error")
    with ChatServer(lambda prompt: (200, "A fine teapot for your white mug.")) as server:
        report = reasons_generate(
            specs=[ReasonSpec(template.active_version_id, shop["teapot"].pk, "itemcf", shop["mug"].pk)],
            backend=OpenAIBackend(url=server.url, model="m"),
        )
    assert (report.generated, report.failed, len(server.requests)) == (0, 1, 0)
    assert not Generation.objects.exists()
    assert _fallbacks("template_error") - before == 1


ADMIN_FORM = {"purpose": "reason", "placement": "home_feed", "is_active": "on", "note": ""}


@pytest.mark.parametrize(
    ("field", "source"),
    [
        ("body", '{% include "recsite/settings.py" %}'),
        ("body", "{% debug %}"),
        ("grounded", "{% load static %}{% static 'x' %}"),
        ("grounded", "{{ seed.title.__class__ }}"),
    ],
)
def test_the_admin_refuses_a_hostile_template_and_stores_no_version(admin_client, field, source):
    template = template_create(name="adm-sandbox", body="first body", grounded="First")
    data = ADMIN_FORM | {"name": "adm-sandbox", "body": "first body", "grounded": "First", field: source}
    data |= {"versions-TOTAL_FORMS": "1", "versions-INITIAL_FORMS": "1", "versions-MIN_NUM_FORMS": "0"}
    data |= {"versions-MAX_NUM_FORMS": "1000", "versions-0-id": str(template.active_version_id)}
    data |= {"versions-0-template": str(template.pk)}

    response = admin_client.post(f"/admin/recommendations/prompttemplate/{template.pk}/change/", data)

    assert response.status_code == 200
    assert "template syntax error" in response.content.decode()
    assert template.versions.count() == 1
    template.refresh_from_db()
    assert template.active_version.body == "first body"


def test_the_admin_does_not_create_a_template_with_a_hostile_body(admin_client):
    data = ADMIN_FORM | {"name": "evil", "body": "{{ settings.SECRET_KEY }}{% debug %}", "grounded": ""}
    response = admin_client.post(
        "/admin/recommendations/prompttemplate/add/",
        data | {"versions-TOTAL_FORMS": "0", "versions-INITIAL_FORMS": "0"},
    )
    assert response.status_code == 200
    assert "{% debug %} is not allowed in prompt templates" in response.content.decode()
    assert not PromptTemplate.objects.filter(name="evil").exists()


def test_the_admin_preview_shows_a_render_failure_instead_of_failing(admin_client, admin_jobs_inline):
    make_shop()
    template = template_create(name="preview-fails", body="{{ route|divisibleby:2 }}", grounded="")
    response = admin_client.post(
        f"/admin/recommendations/prompttemplate/{template.pk}/preview/",
        {"customer": "alice", "product": "teapot"},
        follow=True,
    )
    assert response.status_code == 200
    assert "template failed to render: ValueError" in response.content.decode()
