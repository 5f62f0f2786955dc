"""The web tier's query encoder without torch: the same vectors, and torch never imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from django.test import override_settings

from recommendations.embeddings import model as embedding_model
from recommendations.embeddings.bundle import bundle_encoder, heads_describe, manifest_path
from recommendations.embeddings.model import embedding_model_name, load_model, model_location
from recommendations.embeddings.onnx_runtime import onnx_encoder

TEXTS = [
    "red heart candle holder",
    "Enamel camping mug\nBrand: Trail\nCategory: Home > Kitchen > Mugs",
    "vintage paisley lunch bag with a zip " * 80,  # past the model's 256 tokens
    "ümlaut café 漢字 🎄",
    "",
]
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory):
    """An export with its bundle, as a worker writes them."""
    directory = tmp_path_factory.mktemp("onnx")
    model = load_model()
    assert onnx_encoder(model=model, location=model_location(embedding_model_name()), directory=directory, threads=1)
    return directory


def test_the_bundle_gives_the_vectors_torch_gives(bundle_dir):
    encoder = bundle_encoder(directory=bundle_dir, location=model_location(embedding_model_name()))
    torch_vectors = load_model().encode(TEXTS, convert_to_numpy=True, normalize_embeddings=True)

    vectors = encoder.encode(TEXTS, batch_size=2)

    assert vectors.shape == (len(TEXTS), 384)
    assert np.min(np.sum(vectors * torch_vectors, axis=1)) > 0.99999
    np.testing.assert_allclose(encoder.encode(TEXTS[:1], batch_size=1)[0], vectors[0], atol=1e-5)


def test_a_web_process_set_for_the_cpu_encodes_without_importing_torch(bundle_dir):
    script = (
        "import os, sys, django; os.environ['DJANGO_SETTINGS_MODULE'] = 'recsite.settings'; django.setup();"
        "from recommendations.embeddings.model import encode_texts, embedding_dimension;"
        "v = encode_texts(['a cup for coffee']);"
        "print(v.shape[1], embedding_dimension(), round(float((v * v).sum()), 4), 'torch' in sys.modules)"
    )
    env = {**os.environ, "EMBEDDING_DEVICE": "cpu", "EMBEDDING_ONNX_DIR": str(bundle_dir)}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )

    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-4:] == ["384", "384", "1.0", "False"]


def test_without_a_bundle_or_set_for_auto_the_torch_path_serves(tmp_path, bundle_dir):
    embedding_model._bundle.cache_clear()
    with override_settings(EMBEDDING_DEVICE="cpu", EMBEDDING_ONNX_DIR=tmp_path):
        assert embedding_model.torch_free_encoder() is None
    with override_settings(EMBEDDING_DEVICE="auto", EMBEDDING_ONNX_DIR=bundle_dir):
        assert embedding_model.torch_free_encoder() is None
    embedding_model._bundle.cache_clear()


def test_heads_the_bundle_cannot_run_keep_torch():
    class Unknown:
        pass

    model = load_model()
    assert heads_describe(list(model)[1:]) == {"pooling": "mean", "dense": [], "normalize": True}
    assert heads_describe([*list(model)[1:], Unknown()]) is None


def test_the_manifest_names_the_export_it_was_written_for(bundle_dir):
    manifest = manifest_path(directory=bundle_dir, location=model_location(embedding_model_name()))
    body = json.loads(manifest.read_text())

    assert (bundle_dir / body["onnx"]).exists() and (bundle_dir / body["tokenizer"]).exists()
    assert (body["max_length"], body["dimension"], body["pooling"]) == (256, 384, "mean")
    assert (bundle_dir / body["onnx_int8"]).exists()


def test_the_int8_variant_agrees_with_fp32_and_is_chosen_only_when_asked(bundle_dir):
    location = model_location(embedding_model_name())
    fp32 = bundle_encoder(directory=bundle_dir, location=location)
    int8 = bundle_encoder(directory=bundle_dir, location=location, precision="int8")

    a, b = fp32.encode(TEXTS[:4], batch_size=4), int8.encode(TEXTS[:4], batch_size=4)
    cosine = np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))

    assert (fp32.precision, int8.precision) == ("fp32", "int8")
    assert cosine.mean() > 0.97  # 0.992 over the demo's 2,300 titles and queries (bench/int8_encoder.py)
