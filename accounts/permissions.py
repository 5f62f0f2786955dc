"""Who may call the API: a storefront key with the view's scope, or a staff session."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework import permissions
from rest_framework.exceptions import NotAuthenticated

from accounts.models import ApiKey

if TYPE_CHECKING:
    from rest_framework.request import Request
    from rest_framework.views import APIView


class IsStorefrontOrStaff(permissions.BasePermission):
    """Views declare `required_scope`; a key needs that scope, a staff user needs nothing more.

    `required_scope` is a scope, or a dict of HTTP method -> scope (`"*"` for the rest). It fails
    closed: a view or method that names no scope is not open to API keys.
    """

    message = "This API key lacks the scope this endpoint needs."

    def has_permission(self, request: Request, view: APIView) -> bool:
        if isinstance(request.auth, ApiKey):
            scope = getattr(view, "required_scope", None)
            if isinstance(scope, dict):
                scope = scope.get(request.method, scope.get("*"))
            return scope is not None and request.auth.has_scope(scope)
        user = request.user
        if user and user.is_authenticated and user.is_staff:
            return True
        if not (user and user.is_authenticated):
            # No credentials: DRF turns this into a 401 with WWW-Authenticate.
            raise NotAuthenticated("Send an API key: 'Authorization: Api-Key <key>'.")
        return False
