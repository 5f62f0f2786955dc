"""The role matrix: every API endpoint and method for each kind of caller. A staff session may do
through the API only what its Django model permissions allow (accounts.permissions)."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from accounts.models import Scope
from accounts.permissions import session_permissions
from recommendations.recall import popularity
from tests.factories import ProductFactory, make_api_key

pytestmark = pytest.mark.django_db

EVENT = {"customer": "c1", "product": "p1", "type": "view", "timestamp": "2025-01-01T00:00:00Z"}

# endpoint: (method, path, body, the status when the caller is let in, the scope a key needs).
# Heavy happy paths (search embeds the query, feedback needs a served list) are asked with input
# that fails validation: a 400 still proves the caller got past the permission check.
ENDPOINTS = {
    "list products": ("get", "/api/v1/products/", None, 200, Scope.READ_RECOMMENDATIONS),
    "upsert products": ("post", "/api/v1/products/", {"id": "p2", "title": "Mug"}, 201, Scope.WRITE_CATALOG),
    "get product": ("get", "/api/v1/products/p1/", None, 200, Scope.READ_RECOMMENDATIONS),
    "ingest events": ("post", "/api/v1/events/", EVENT, 201, Scope.WRITE_EVENTS),
    "recommendations": ("get", "/api/v1/recommendations/?customer=c1&k=3", None, 200, Scope.READ_RECOMMENDATIONS),
    "similar items": ("get", "/api/v1/products/p1/similar/?k=3", None, 200, Scope.READ_RECOMMENDATIONS),
    "search": ("get", "/api/v1/search/", None, 400, Scope.READ_RECOMMENDATIONS),
    "bought together": ("get", "/api/v1/bought-together/?products=p1", None, 200, Scope.READ_RECOMMENDATIONS),
    "feedback": ("post", "/api/v1/feedback/", {}, 400, Scope.WRITE_EVENTS),
}
READS = {name for name, (method, *_rest) in ENDPOINTS.items() if method == "get"}

# role: the endpoints it may call (everything else is refused).
ALLOWED = {
    "anonymous": set(),
    "key with the scope": set(ENDPOINTS),
    "key without the scope": set(),
    "superuser": set(ENDPOINTS),
    "Operators": READS,
    "Merchandisers": READS | {"upsert products"},
    "plain staff": set(),
    "non-staff user": set(),
}


def _client(role: str, scope: Scope) -> APIClient:
    client = APIClient()
    if role.startswith("key"):
        scopes = [scope] if role == "key with the scope" else [s for s in Scope if s != scope]
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {make_api_key(scopes=scopes)}")
    elif role != "anonymous":
        users = get_user_model().objects
        if role == "superuser":
            user = users.create_superuser("root", password="x" * 12)
        else:
            user = users.create_user("someone", password="x" * 12, is_staff=role != "non-staff user")
            if role in ("Operators", "Merchandisers"):
                user.groups.add(Group.objects.get(name=role))
        client.force_login(user)
    return client


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("role", ALLOWED)
def test_role_matrix(role, endpoint):
    popularity._cache.clear()
    ProductFactory(external_id="p1", title="Blue mug")
    method, path, body, allowed_status, scope = ENDPOINTS[endpoint]

    response = getattr(_client(role, scope), method)(path, body, format="json")

    if endpoint in ALLOWED[role]:
        assert response.status_code == allowed_status, response.content
    elif role == "anonymous":
        assert response.status_code == 401
    else:
        assert response.status_code == 403, response.content
        assert response.json()["error"]["code"] == "permission_denied"


def test_a_session_refusal_says_what_is_missing():
    response = _client("Operators", Scope.WRITE_CATALOG).post("/api/v1/products/", {"id": "p9", "title": "Mug"})

    assert response.json()["error"]["message"] == "Your account lacks the permissions this endpoint needs."


def test_a_view_may_name_the_session_permissions_itself():
    class CustomView:
        required_scope = {"POST": Scope.WRITE_CATALOG, "*": Scope.READ_RECOMMENDATIONS}
        session_permissions = {"POST": ("catalog.delete_product",)}

    assert session_permissions(CustomView(), "POST") == ("catalog.delete_product",)
    assert session_permissions(CustomView(), "GET") == ("catalog.view_product",)
    assert session_permissions(object(), "GET") is None
