"""GET/POST /api/v1/products/ and GET /api/v1/products/{id}/."""

from decimal import Decimal

import pytest

from catalog.models import Category, Product
from tests.factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/products/"


def test_list_filters_by_category_subtree_stock_and_title(storefront_client):
    # given: products in a category, its child, a sibling, and one out of stock
    kitchen = CategoryFactory(name="Kitchen", path="Home > Kitchen")
    mugs = CategoryFactory(name="Mugs", path="Home > Kitchen > Mugs")
    garden = CategoryFactory(name="Garden", path="Home > Garden")
    ProductFactory(external_id="a", title="Blue mug", category=mugs)
    ProductFactory(external_id="b", title="Kettle", category=kitchen)
    ProductFactory(external_id="c", title="Red mug", category=mugs, in_stock=False)
    ProductFactory(external_id="d", title="Garden mug", category=garden)

    # when: filtering by the parent category written without spaces
    kitchen_ids = storefront_client.get(URL, {"category": "Home>Kitchen"}).json()
    in_stock_mugs = storefront_client.get(URL, {"category": "Home > Kitchen", "in_stock": "true", "q": "MUG"}).json()

    # then
    assert [p["id"] for p in kitchen_ids["results"]] == ["a", "b", "c"]
    assert kitchen_ids["count"] == 3
    assert [p["id"] for p in in_stock_mugs["results"]] == ["a"]


def test_list_pages_with_limit_and_offset(storefront_client):
    for external_id in ["p1", "p2", "p3"]:
        ProductFactory(external_id=external_id)

    response = storefront_client.get(URL, {"limit": 1, "offset": 1})

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert [p["id"] for p in body["results"]] == ["p2"]
    assert body["next"].endswith("?limit=1&offset=2")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "501"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"offset": str(10**30)}, "offset"),
        ({"in_stock": "maybe"}, "in_stock"),
        ({"q": "x" * 501}, "q"),
        ({"category": "Home\x00"}, "category"),
    ],
)
def test_list_rejects_bad_parameters_naming_them(storefront_client, params, field):
    response = storefront_client.get(URL, params)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert list(error["fields"]) == [field]
    assert error["message"].startswith(f"Invalid input: {field}: ")


def test_detail_returns_the_product(storefront_client):
    ProductFactory(
        external_id="sku 1:é",
        title="Mug",
        category=CategoryFactory(name="Mugs", path="Mugs"),
        price="4.50",
        attributes={"colour": "blue"},
    )

    response = storefront_client.get(URL + "sku%201:%C3%A9/")

    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in ["id", "title", "category", "price", "currency", "in_stock", "attributes"]} == {
        "id": "sku 1:é",
        "title": "Mug",
        "category": "Mugs",
        "price": "4.50",
        "currency": "GBP",
        "in_stock": True,
        "attributes": {"colour": "blue"},
    }


def test_detail_of_unknown_product_is_a_json_404(storefront_client):
    response = storefront_client.get(URL + "nope/")

    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "No product with id 'nope'.", "fields": {}}}


def test_a_url_no_route_matches_is_a_json_404_for_any_method(storefront_client):
    # e.g. an id holding an encoded "/" makes the path one segment too long
    for response in [storefront_client.get(URL + "a%2Fb/"), storefront_client.post("/api/v1/nothing/", {})]:
        assert response.status_code == 404
        assert response["Content-Type"] == "application/json"
        assert response.json()["error"]["code"] == "not_found"


def test_upsert_refuses_an_id_holding_a_slash_which_no_url_could_read(storefront_client):
    response = storefront_client.post(URL, [{"id": "a/b", "title": "Mug"}, {"id": "ab", "title": "Mug"}], format="json")

    assert response.status_code == 207
    assert response.json()["errors"] == [{"index": 0, "field": "id", "message": "must not contain '/', got 'a/b'"}]
    assert list(Product.objects.values_list("external_id", flat=True)) == ["ab"]


def test_detail_rejects_an_id_no_product_can_have(storefront_client):
    response = storefront_client.get(URL + "x" * 129 + "/")

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["id"]


def test_upsert_creates_updates_and_reports_bad_rows_by_index(storefront_client):
    # given: one stored product
    ProductFactory(external_id="old", title="Old title")
    rows = [
        {"id": "new", "title": "Mug", "category": "Home>Kitchen", "price": "3.50"},
        {"id": "old", "title": "New title"},
        {"id": "bad", "title": ""},
        "not an object",
        {"id": "neg", "title": "Negative", "price": -1},
    ]

    # when
    response = storefront_client.post(URL, rows, format="json")

    # then: 207, good rows stored, each bad row reported at its position
    assert response.status_code == 207
    assert response.json() == {
        "received": 5,
        "created": 1,
        "updated": 1,
        "unchanged": 0,
        "errors": [
            {"index": 2, "field": "title", "message": "This field may not be blank."},
            {"index": 3, "field": None, "message": "Expected an object, got a string."},
            {"index": 4, "field": "price", "message": "must be >= 0, got -1"},
        ],
        "warnings": [],
    }
    new = Product.objects.get(external_id="new")
    assert (new.title, new.category.path, new.price) == ("Mug", "Home > Kitchen", Decimal("3.50"))
    assert Product.objects.get(external_id="old").title == "New title"
    assert not Product.objects.filter(external_id__in=["bad", "neg"]).exists()


def test_upsert_of_the_same_rows_twice_is_201_and_unchanged(storefront_client):
    rows = [{"id": "a", "title": "A"}, {"id": "b", "title": "B"}]
    storefront_client.post(URL, rows, format="json")

    response = storefront_client.post(URL, rows, format="json")

    assert response.status_code == 201
    assert response.json() == {"received": 2, "created": 0, "updated": 0, "unchanged": 2, "errors": [], "warnings": []}


def test_upsert_of_one_object_is_201(storefront_client):
    response = storefront_client.post(URL, {"id": "one", "title": "One"}, format="json")

    assert response.status_code == 201
    assert response.json()["created"] == 1
    assert Product.objects.filter(external_id="one").count() == 1


def test_upsert_of_one_bad_object_is_400_naming_the_field(storefront_client):
    response = storefront_client.post(URL, {"id": "one", "title": "One", "currency": "EURO"}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"currency": ["Ensure this field has no more than 3 characters."]}
    assert not Product.objects.exists()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "Expected at least one product; the list is empty."),
        ("text", "Expected an object (one product) or a list of them, got a string."),
        (42, "Expected an object (one product) or a list of them, got a number."),
        ([{"id": str(i), "title": "t"} for i in range(1001)], "At most 1000 products per request; got 1001."),
    ],
)
def test_upsert_rejects_a_body_that_is_not_rows(storefront_client, body, message):
    response = storefront_client.post(URL, body, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["message"] == f"Invalid input: {message}"
    assert not Product.objects.exists()


def test_upsert_rejects_attributes_postgres_cannot_store(storefront_client):
    nested: list = [1]
    for _ in range(17):
        nested = [nested]
    rows = [
        {"id": "a", "title": "A", "attributes": {"k": "v\x00"}},
        {"id": "b", "title": "B", "attributes": {"k\x00": 1}},
        {"id": "c", "title": "C", "attributes": {"k": nested}},
        {"id": "d", "title": "D\x00"},
    ]

    response = storefront_client.post(URL, rows, format="json")

    assert response.status_code == 207
    assert [(e["index"], e["field"], e["message"]) for e in response.json()["errors"]] == [
        (0, "attributes", "Null characters are not allowed."),
        (1, "attributes", "Null characters are not allowed."),
        (2, "attributes", "Nested deeper than 16 levels."),
        (3, "title", "Null characters are not allowed."),
    ]
    assert not Product.objects.exists()
    assert not Category.objects.exists()


def test_upsert_rejects_malformed_json_and_other_content_types(storefront_client):
    malformed = storefront_client.post(URL, data='[{"id": "a",', content_type="application/json")
    form = storefront_client.post(URL, data="id=a&title=b", content_type="application/x-www-form-urlencoded")
    nested = storefront_client.post(URL, data="[" * 100_000 + "]" * 100_000, content_type="application/json")

    assert malformed.status_code == 400
    assert malformed.json()["error"]["code"] == "parse_error"
    assert form.status_code == 415
    assert form.json()["error"]["code"] == "unsupported_media_type"
    assert nested.status_code == 400
    assert nested.json()["error"]["message"] == "JSON parse error - the body is nested too deeply."


def test_wrong_method_is_405(storefront_client):
    response = storefront_client.delete(URL)

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_list_costs_two_queries_whatever_the_page_size(storefront_client, django_assert_num_queries):
    ProductFactory.create_batch(20, category=CategoryFactory(name="Mugs", path="Mugs"))
    storefront_client.get(URL)  # the key is looked up (and its last_used_at written) once, here

    # count, page (categories joined, not one query per product)
    with django_assert_num_queries(2):
        response = storefront_client.get(URL, {"limit": 20})

    assert len(response.json()["results"]) == 20


def test_an_upsert_removes_bidi_controls_and_says_so(storefront_client):
    response = storefront_client.post(URL, {"id": "p1", "title": "evil\u202e mug"}, format="json")

    assert response.status_code == 201
    assert response.json()["warnings"] == [
        {
            "index": 0,
            "field": "title",
            "message": "bidi control characters (U+202A-U+202E, U+2066-U+2069) removed: they can make text"
            " display reversed",
        }
    ]
    assert Product.objects.get(external_id="p1").title == "evil mug"
