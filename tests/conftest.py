import pytest
from rest_framework.test import APIClient

from tests.factories import make_api_key


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def storefront_client(db) -> APIClient:
    """A client sending an API key with every scope."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {make_api_key()}")
    return client
