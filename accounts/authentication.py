"""`Authorization: Api-Key <key>` (or `X-Api-Key: <key>`) authentication for storefronts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.auth.models import AnonymousUser
from rest_framework import authentication, exceptions

from accounts.models import ApiKey
from accounts.services import api_key_lookup, api_key_mark_used

if TYPE_CHECKING:
    from rest_framework.request import Request


class StorefrontUser(AnonymousUser):
    """The request's user when it came with an API key: not a Django user, not staff."""


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Api-Key"

    def authenticate(self, request: Request) -> tuple[StorefrontUser, ApiKey] | None:
        raw_key = request.headers.get("X-Api-Key")
        header = request.headers.get("Authorization", "")
        if not raw_key and header.startswith(self.keyword + " "):
            raw_key = header[len(self.keyword) + 1 :].strip()
        if not raw_key:
            return None
        api_key = api_key_lookup(raw_key=raw_key)
        if api_key is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        api_key_mark_used(api_key=api_key)
        return StorefrontUser(), api_key

    def authenticate_header(self, request: Request) -> str:
        # Makes DRF answer 401 (not 403) when credentials are missing or wrong.
        return self.keyword
