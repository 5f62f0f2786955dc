"""A query's embedding is encoded once per process and remembered, by model and text."""

from __future__ import annotations

import numpy as np
import pytest

from recommendations.embeddings import queries


@pytest.fixture
def encoded(monkeypatch):
    """The texts the model was asked to encode (a stand-in encoder: one axis per text's length)."""
    asked: list[str] = []

    def encode(texts):
        asked.extend(texts)
        vectors = np.zeros((len(texts), 8), dtype=np.float32)
        for row, text in enumerate(texts):
            vectors[row, len(text) % 8] = 1.0
        return vectors

    monkeypatch.setattr(queries, "encode_texts", encode)
    return asked


def test_a_query_is_encoded_once_and_its_vector_shared_read_only(encoded):
    first = queries.query_vector("red mug ")
    again = queries.query_vector(" red mug")

    assert encoded == ["red mug"]
    assert again is first
    with pytest.raises(ValueError, match="read-only"):
        first[0] = 2.0


def test_another_model_encodes_again(encoded, settings):
    queries.query_vector("red mug")
    settings.EMBEDDING_MODEL = "another-model"

    queries.query_vector("red mug")

    assert encoded == ["red mug", "red mug"]


def test_the_least_recently_used_query_is_forgotten_past_the_bound(encoded, settings):
    settings.QUERY_VECTORS_KEPT = 2
    queries.query_vector("a")
    queries.query_vector("b")
    queries.query_vector("a")  # used again: "b" is now the oldest
    queries.query_vector("c")

    queries.query_vector("a")
    queries.query_vector("b")

    assert encoded == ["a", "b", "c", "b"]


def test_none_kept_encodes_every_query(encoded, settings):
    settings.QUERY_VECTORS_KEPT = 0

    queries.query_vector("a")
    queries.query_vector("a")

    assert encoded == ["a", "a"]


@pytest.mark.django_db
def test_the_real_model_gives_the_vector_encode_texts_gives():
    from recommendations.embeddings.model import encode_texts

    vector = queries.query_vector("garden tools")

    np.testing.assert_array_equal(vector, encode_texts(["garden tools"])[0])
