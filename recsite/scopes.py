"""The storefront API's key scopes: what an API view requires (`required_scope`) and an API key
holds (accounts.ApiKey.scopes).

Here, in the bottom layer, so every app's views can name them without importing accounts.
"""

from __future__ import annotations

from django.db import models


class Scope(models.TextChoices):
    READ_RECOMMENDATIONS = "read:recommendations"
    WRITE_EVENTS = "write:events"
    WRITE_CATALOG = "write:catalog"
    # Customers' attributes and their erasure: personal data, so a key of its own.
    WRITE_CUSTOMERS = "write:customers"
