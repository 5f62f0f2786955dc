from django.contrib import admin, messages
from django.http import HttpRequest

from accounts.models import ApiKey
from accounts.services import api_key_create, api_key_revoke


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "scopes", "revoked", "created_at", "last_used_at"]
    list_filter = ["revoked"]
    search_fields = ["name", "prefix"]
    readonly_fields = ["prefix", "key_hash", "created_at", "last_used_at"]
    fields = [
        "name",
        "scopes",
        "revoked",
        "prefix",
        "key_hash",
        "created_at",
        "last_used_at",
    ]
    actions = ["revoke"]

    def save_model(self, request: HttpRequest, obj: ApiKey, form, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        created, raw_key = api_key_create(name=obj.name, scopes=obj.scopes or None)
        obj.pk = created.pk
        obj.refresh_from_db()
        messages.warning(request, f"The new key, shown only this once: {raw_key}")

    @admin.action(description="Revoke selected keys")
    def revoke(self, request: HttpRequest, queryset) -> None:
        for api_key in queryset:
            api_key_revoke(api_key_id=api_key.pk)
