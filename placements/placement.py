"""The surfaces a storefront shows lists on."""

from __future__ import annotations

from django.db import models


class Placement(models.TextChoices):
    HOME_FEED = "home_feed", "home feed"
    SIMILAR_ITEMS = "similar_items", "similar items"
    SEARCH = "search", "search"
    BOUGHT_TOGETHER = "bought_together", "bought together"
