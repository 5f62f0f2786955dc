"""The OpenAPI schema documents every endpoint without warnings; the docs page works offline."""

import re

import jsonschema
import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

pytestmark = pytest.mark.django_db

OPERATIONS = {
    ("/api/v1/products/", "get"): "products_list",
    ("/api/v1/products/", "post"): "products_upsert",
    ("/api/v1/products/{product_id}/", "get"): "products_retrieve",
    ("/api/v1/products/{product_id}/similar/", "get"): "products_similar",
    ("/api/v1/events/", "post"): "events_ingest",
    ("/api/v1/customers/", "post"): "customers_upsert",
    ("/api/v1/customers/{customer_id}/", "get"): "customers_retrieve",
    ("/api/v1/customers/{customer_id}/", "delete"): "customers_erase",
    ("/api/v1/recommendations/", "get"): "recommendations_list",
    ("/api/v1/search/", "get"): "search",
    ("/api/v1/bought-together/", "get"): "bought_together",
    ("/api/v1/feedback/", "post"): "feedback_create",
    ("/api/v1/conversations/", "post"): "conversations_create",
    ("/api/v1/conversations/{conversation_id}/turns/", "post"): "conversations_turn",
    ("/healthz", "get"): "healthz",
    ("/readyz", "get"): "readyz",
}


def test_schema_generates_and_validates_without_warnings(tmp_path):
    # `--fail-on-warn` turns any warning or error of the generator into a CommandError.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))

    assert (tmp_path / "schema.yaml").stat().st_size > 0


def test_schema_documents_every_operation_its_parameters_and_errors(api_client):
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    operations = {
        (path, method): op["operationId"]
        for path, item in schema["paths"].items()
        for method, op in item.items()
        if method in {"get", "post", "delete"}
    }
    assert operations == OPERATIONS
    recommendations = schema["paths"]["/api/v1/recommendations/"]["get"]
    assert {p["name"]: p.get("required", False) for p in recommendations["parameters"]} == {
        "customer": False,
        "session": False,
        "k": False,
        "exclude": False,
        "category": False,
        "include_purchased": False,
        "context": False,
        "q": False,
        "reasons": False,
        "price_min": False,
        "price_max": False,
        "brand": False,
        "attr": False,
        "boost": False,
        "bury": False,
        "page_size": False,
        "cursor": False,
        "exclude_served": False,
    }
    assert set(recommendations["responses"]) == {"200", "400", "401", "403", "409", "414", "429", "503"}
    assert set(schema["paths"]["/api/v1/events/"]["post"]["responses"]) == {
        "201",
        "207",
        "400",
        "409",
        "401",
        "403",
        "414",
        "415",
        "429",
        "503",
    }
    assert schema["components"]["securitySchemes"]["ApiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-Api-Key",
        "description": "A storefront key (`manage.py create_api_key`). `Authorization: Api-Key <key>` works too.",
    }


def test_docs_page_serves_swagger_ui_from_the_sidecar(api_client):
    staff = get_user_model().objects.create_user("staff", password="x" * 12, is_staff=True)
    api_client.force_login(staff)

    response = api_client.get("/api/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css" in html
    # Every script and stylesheet is served by this site: no CDN.
    assert re.findall(r'(?:src|href)="(https?://[^"]+)"', html) == []


def test_schema_documents_the_answers_from_outside_the_views(api_client):
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    for path, item in schema["paths"].items():
        for operation in item.values():
            # gunicorn refuses an over-long request line before the API sees it
            assert "414" in operation["responses"], path
            if path.startswith("/api/"):
                # the database down: a JSON error and Retry-After (recsite.api_errors)
                unavailable = operation["responses"]["503"]
                assert unavailable["headers"] == {"Retry-After": {"schema": {"type": "integer"}}}
                assert unavailable["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    assert "503" not in schema["paths"]["/healthz"]["get"]["responses"]


def test_the_conversation_endpoints_document_their_examples_and_errors(api_client):
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    turn = schema["paths"]["/api/v1/conversations/{conversation_id}/turns/"]["post"]
    assert {"200", "400", "404", "409"} <= set(turn["responses"])
    examples = turn["requestBody"]["content"]["application/json"]["examples"]
    assert {example["value"]["message"] for example in examples.values()} == {"cheaper", "no mugs, in blue"}


STOREFRONT_OPERATIONS = [
    ("/api/v1/recommendations/", "get"),
    ("/api/v1/products/{product_id}/similar/", "get"),
    ("/api/v1/search/", "get"),
    ("/api/v1/bought-together/", "get"),
    ("/api/v1/events/", "post"),
    ("/api/v1/customers/", "post"),
    ("/api/v1/customers/{customer_id}/", "get"),
    ("/api/v1/customers/{customer_id}/", "delete"),
]


def _as_json_schema(node: object) -> object:
    """OpenAPI 3.0's `nullable` in JSON Schema's words (a null type or a null branch)."""
    if isinstance(node, list):
        return [_as_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: _as_json_schema(value) for key, value in node.items() if key != "nullable"}
    if not node.get("nullable"):
        return converted
    if "type" in converted:
        converted["type"] = [converted["type"], "null"]
        if "enum" in converted:
            converted["enum"] = [*converted["enum"], None]
        return converted
    return {"anyOf": [converted, {"type": "null"}]}


@pytest.mark.parametrize(("path", "method"), STOREFRONT_OPERATIONS)
def test_every_storefront_parameter_and_body_has_an_example(api_client, path, method):
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    operation = schema["paths"][path][method]

    without = [parameter["name"] for parameter in operation.get("parameters", []) if not parameter.get("examples")]
    assert without == []
    if "requestBody" in operation:
        assert operation["requestBody"]["content"]["application/json"]["examples"]


@pytest.mark.parametrize(("path", "method"), [op for op in STOREFRONT_OPERATIONS if op[1] == "get"])
def test_every_storefront_answer_example_conforms_to_its_schema(api_client, path, method):
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    content = schema["paths"][path][method]["responses"]["200"]["content"]["application/json"]
    validator = jsonschema.Draft202012Validator(
        {"components": _as_json_schema(schema["components"]), **_as_json_schema(content["schema"])}
    )

    assert content["examples"]
    for example in content["examples"].values():
        assert list(validator.iter_errors(example["value"])) == []
        # every field the answer has is shown, none left out
        properties = schema["components"]["schemas"][content["schema"]["$ref"].rsplit("/", 1)[1]]["properties"]
        assert set(example["value"]) == set(properties)
