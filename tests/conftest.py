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


@pytest.fixture(autouse=True)
def fresh_reason_caches():
    """The reasons' per-process template snapshot and text cache hold rows of earlier tests."""
    from recommendations.reasons.cache import memory_clear
    from recommendations.reasons.pool import active_templates_forget

    active_templates_forget()
    memory_clear()
    yield
    active_templates_forget()
    memory_clear()
