"""The Content-Security-Policy header: on the admin's pages, not on the API."""

import pytest

pytestmark = pytest.mark.django_db


def test_admin_pages_carry_the_policy(admin_client):
    response = admin_client.get("/admin/recommendations/merchrule/preview/")

    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self' 'unsafe-inline'" in policy
    assert "object-src 'none'" in policy


def test_the_login_page_carries_it_too(client):
    assert "Content-Security-Policy" in client.get("/admin/login/")


def test_the_api_does_not(storefront_client):
    assert "Content-Security-Policy" not in storefront_client.get("/api/v1/products/")


def test_an_empty_setting_turns_it_off(admin_client, settings):
    settings.CONTENT_SECURITY_POLICY = ""

    assert "Content-Security-Policy" not in admin_client.get("/admin/")
