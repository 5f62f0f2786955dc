"""Who may call the API: a storefront key with the view's scope, or a staff session whose Django
model permissions cover what the scope stands for."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework import permissions
from rest_framework.exceptions import NotAuthenticated

from accounts.models import ApiKey
from recsite.scopes import Scope

if TYPE_CHECKING:
    from rest_framework.request import Request
    from rest_framework.views import APIView

# What a staff session needs for what a key's scope allows: the same model permissions the admin
# asks for, so the API is no back door around a role (an Operators user cannot write products).
SCOPE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    Scope.READ_RECOMMENDATIONS: ("catalog.view_product",),
    Scope.WRITE_CATALOG: ("catalog.add_product", "catalog.change_product"),
    Scope.WRITE_EVENTS: ("catalog.add_event",),
}


def _for_method(declared: object, method: str) -> object:
    if isinstance(declared, dict):
        return declared.get(method, declared.get("*"))
    return declared


def session_permissions(view: APIView, method: str) -> tuple[str, ...] | None:
    """The model permissions a session needs for `method` on `view`; None: no session may call it.

    A view may declare `session_permissions` (a tuple, or a dict like `required_scope`); otherwise
    its scope's entry in SCOPE_PERMISSIONS applies.
    """
    declared = _for_method(getattr(view, "session_permissions", None), method)
    if declared is not None:
        return tuple(declared)
    scope = _for_method(getattr(view, "required_scope", None), method)
    return SCOPE_PERMISSIONS.get(scope) if scope is not None else None


class IsStorefrontOrStaff(permissions.BasePermission):
    """Views declare `required_scope`; a key needs that scope, a staff user the permissions it maps to.

    `required_scope` is a scope, or a dict of HTTP method -> scope (`"*"` for the rest). It fails
    closed: a view or method that names no scope is open neither to API keys nor to sessions.
    """

    message = "This API key lacks the scope this endpoint needs."

    def has_permission(self, request: Request, view: APIView) -> bool:
        if isinstance(request.auth, ApiKey):
            scope = _for_method(getattr(view, "required_scope", None), request.method)
            return scope is not None and request.auth.has_scope(scope)
        user = request.user
        if not (user and user.is_authenticated):
            # No credentials: DRF turns this into a 401 with WWW-Authenticate.
            raise NotAuthenticated("Send an API key: 'Authorization: Api-Key <key>'.")
        self.message = "Your account lacks the permissions this endpoint needs."
        if not user.is_staff:
            return False
        needed = session_permissions(view, request.method)
        return needed is not None and user.has_perms(needed)
