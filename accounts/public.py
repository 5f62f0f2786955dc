"""What other apps use of accounts: API keys made and revoked by tools (the traffic simulator)."""

from accounts.services import api_key_create, api_key_revoke

__all__ = ["api_key_create", "api_key_revoke"]
