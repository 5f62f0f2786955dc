"""Storefront API keys: only a hash is stored; the key itself is shown once, at creation."""

from __future__ import annotations

from django.db import models

# Defined in recsite so views of every app name scopes without importing accounts; still
# importable from here.
from recsite.scopes import Scope as Scope


class ApiKey(models.Model):
    name = models.CharField(max_length=200)
    # The first characters of the key, shown in the admin so a key can be recognised.
    prefix = models.CharField(max_length=16, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list, blank=True)
    revoked = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes
