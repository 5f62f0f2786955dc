from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        # Registers the OpenAPI description of API-key authentication with drf-spectacular.
        from accounts import schema  # noqa: F401
        from accounts.models import ApiKey
        from accounts.services import api_keys_forget

        # An edit in the admin (scopes, revoked) applies in this process at once.
        post_save.connect(api_keys_forget, sender=ApiKey, dispatch_uid="accounts.api_keys_forget_saved")
        post_delete.connect(api_keys_forget, sender=ApiKey, dispatch_uid="accounts.api_keys_forget_deleted")
