"""The merchandising preview pages answer malformed input with a message or a 400, never a 500."""

import pytest

from tests.factories import CustomerFactory, ProductFactory

pytestmark = pytest.mark.django_db

PREVIEW = "/admin/recommendations/merchrule/preview/"
CUSTOMERS = "/admin/recommendations/merchrule/preview/customers/"


@pytest.mark.parametrize("field", ["customer", "product", "q", "category"])
def test_a_nul_byte_in_the_preview_is_a_message_not_a_server_error(admin_client, field):
    ProductFactory(external_id="p1")

    response = admin_client.post(PREVIEW, {"placement": "similar_items", "product": "p1", field: "a\x00b"})

    assert response.status_code == 200
    assert f"{field}: must not contain a NUL character." in response.content.decode()


def test_a_nul_byte_in_the_customer_autocomplete_is_a_400(admin_client):
    CustomerFactory(external_id="alice")

    bad = admin_client.get(CUSTOMERS, {"q": "al\x00"})
    good = admin_client.get(CUSTOMERS, {"q": "al"})

    assert bad.status_code == 400
    assert bad.json() == {"error": "q: must not contain a NUL character."}
    assert good.json() == {"customers": ["alice"]}
