"""Catalog admin pages render, filter, and do not query per row."""

from __future__ import annotations

import pytest
from django.urls import reverse

from catalog.models import ProductEmbedding
from tests.factories import CategoryFactory, EventFactory, ProductFactory

pytestmark = pytest.mark.django_db


def test_product_changelist_filters_by_embedded(admin_client):
    # given one embedded and one not embedded product
    embedded, plain = ProductFactory(title="With vector"), ProductFactory(title="Without vector")
    ProductEmbedding.objects.create(product=embedded, model_name="m", text_hash=embedded.text_hash, vector=[0.1] * 384)

    # when
    yes = admin_client.get(reverse("admin:catalog_product_changelist"), {"embedded": "yes"})
    no = admin_client.get(reverse("admin:catalog_product_changelist"), {"embedded": "no"})

    # then
    assert [p.pk for p in yes.context["cl"].result_list] == [embedded.pk]
    assert [p.pk for p in no.context["cl"].result_list] == [plain.pk]


@pytest.mark.parametrize("rows", [1, 10])
def test_changelists_query_count_does_not_grow_with_rows(admin_client, django_assert_max_num_queries, rows):
    # given
    category = CategoryFactory(name="Mugs")
    for _ in range(rows):
        EventFactory(product=ProductFactory(category=category))

    # when / then: the same bound for 1 and 10 rows
    for name in ("catalog_product_changelist", "catalog_event_changelist", "catalog_category_changelist"):
        with django_assert_max_num_queries(12):
            response = admin_client.get(reverse(f"admin:{name}"))
        assert response.status_code == 200


def test_upload_imports_good_rows_and_reports_bad_ones_by_line(admin_client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from catalog.models import Product

    body = b'{"id": "u1", "title": "Blue mug", "category": "Home > Mugs"}\n{"id": "u2"}\nnot json\n'
    upload = SimpleUploadedFile("products.jsonl", body)
    answer = admin_client.post(reverse("admin:catalog_product_upload"), {"file": upload, "format": ""})
    report = answer.context["report"]
    assert (report.received, report.created, len(report.errors)) == (3, 1, 2)
    assert [(e.line, e.field) for e in report.errors] == [(2, "title"), (3, None)]
    assert b"upload-errors" in answer.content
    assert list(Product.objects.values_list("external_id", flat=True)) == ["u1"]
    # the same file again changes nothing
    again = admin_client.post(
        reverse("admin:catalog_product_upload"), {"file": SimpleUploadedFile("p.jsonl", body), "format": ""}
    )
    assert (again.context["report"].created, again.context["report"].unchanged) == (0, 1)


def test_upload_of_an_unreadable_file_is_a_form_error(admin_client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    answer = admin_client.post(
        reverse("admin:catalog_product_upload"), {"file": SimpleUploadedFile("products.xlsx", b"PK\x03\x04")}
    )
    assert "cannot tell the format" in str(answer.context["form"].errors["file"])


def test_bulk_actions_mark_out_of_stock_and_drop_embeddings(admin_client):
    products = [ProductFactory() for _ in range(3)]
    for product in products:
        ProductEmbedding.objects.create(
            product=product, model_name="m", text_hash=product.text_hash, vector=[0.1] * 384
        )
    url = reverse("admin:catalog_product_changelist")
    chosen = [products[0].pk, products[1].pk]
    admin_client.post(url, {"action": "mark_out_of_stock", "_selected_action": chosen})
    admin_client.post(url, {"action": "reembed", "_selected_action": chosen})
    from catalog.models import Product

    assert sorted(Product.objects.filter(in_stock=False).values_list("pk", flat=True)) == sorted(chosen)
    assert list(ProductEmbedding.objects.values_list("product_id", flat=True)) == [products[2].pk]
