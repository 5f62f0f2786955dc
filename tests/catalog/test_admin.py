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
