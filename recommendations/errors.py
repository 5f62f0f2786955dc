"""Errors the serving pipeline raises for callers (the API turns them into 4xx responses)."""

from __future__ import annotations


class RecommendationError(Exception):
    """Base class of the pipeline's expected errors."""


class UnknownProduct(RecommendationError):
    """No product has this external id."""

    def __init__(self, product_id: str) -> None:
        super().__init__(f"unknown product {product_id!r}")
        self.product_id = product_id


class EmbeddingModelUnavailable(RecommendationError):
    """The configured embedding model cannot be loaded (missing files, bad setting, no memory)."""
