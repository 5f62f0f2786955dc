"""The query encoder of the web tier, without torch: `tokenizers` + ONNX Runtime + numpy.

A worker that exports the model to ONNX (`onnx_runtime.onnx_encoder`) also writes a bundle beside
it: the fast tokenizer's JSON, the pooling and normalisation the model applies after its
transformer, its dense layers' weights, and a manifest naming them. A web process configured for
the CPU (`EMBEDDING_DEVICE=cpu`, as `deploy/gunicorn.conf.py` sets) reads the bundle and encodes
queries with the same numbers torch gives (tested), without importing torch: a lighter, faster
starting worker. Models whose heads the bundle cannot describe keep the torch path.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)
MANIFEST_SUFFIX = ".bundle.json"
POOLINGS = ("mean", "cls", "max")
ACTIVATIONS = {"Identity": lambda x: x, "Tanh": np.tanh}


def manifest_path(*, directory: Path, location: str) -> Path:
    """Where the bundle of the model at `location` is described: named after the model's files
    (not torch's version, which a web process does not know), so a changed model gets a new one."""
    digest = hashlib.sha256(location.encode())
    source = Path(location)
    if source.is_dir():
        for file in sorted(source.rglob("*")):
            if file.is_file():
                stat = file.stat()
                digest.update(f"{file.relative_to(source)}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    label = re.sub(r"[^\w.]+", "-", "-".join(source.parts[-2:])).strip("-") or "model"
    return directory / f"{label}-{digest.hexdigest()[:16]}{MANIFEST_SUFFIX}"


def heads_describe(heads: Sequence[Any]) -> dict[str, Any] | None:
    """The modules after the transformer as data (pooling, dense layers, normalisation), or None
    when one of them is of a kind the bundle cannot run."""
    spec: dict[str, Any] = {"pooling": None, "dense": [], "normalize": False}
    for head in heads:
        kind = type(head).__name__
        if kind == "Pooling" and getattr(head, "pooling_mode", None) in POOLINGS and spec["pooling"] is None:
            spec["pooling"] = head.pooling_mode
        elif kind == "Dense" and type(head.activation_function).__name__ in ACTIVATIONS and spec["pooling"]:
            spec["dense"].append(
                {
                    "weight": head.linear.weight.detach().cpu().numpy().astype(np.float32).tolist(),
                    "bias": None
                    if head.linear.bias is None
                    else head.linear.bias.detach().cpu().numpy().astype(np.float32).tolist(),
                    "activation": type(head.activation_function).__name__,
                }
            )
        elif kind == "Normalize" and spec["pooling"]:
            spec["normalize"] = True
        else:
            return None
    return spec if spec["pooling"] else None


def bundle_write(*, model: Any, onnx_path: Path, manifest: Path, input_names: Sequence[str]) -> bool:
    """Write the bundle of `model` (exported to `onnx_path`) under `manifest`; False when the model
    cannot be run without torch (its heads, or no fast tokenizer)."""
    spec = heads_describe(list(model)[1:])
    backend = getattr(model.tokenizer, "backend_tokenizer", None)
    if spec is None or backend is None:
        return False
    tokenizer_path = manifest.with_name(manifest.name.replace(MANIFEST_SUFFIX, ".tokenizer.json"))
    backend.save(str(tokenizer_path))
    int8 = int8_quantize(onnx_path=onnx_path)
    body = {
        "onnx": onnx_path.name,
        "onnx_int8": None if int8 is None else int8.name,
        "tokenizer": tokenizer_path.name,
        "max_length": model.max_seq_length,
        "pad_id": model.tokenizer.pad_token_id or 0,
        "pad_token": model.tokenizer.pad_token or "[PAD]",
        "input_names": list(input_names),
        "dimension": model.get_embedding_dimension(),
        **spec,
    }
    # Through a temporary file: a web process starting meanwhile never reads half a manifest.
    partial = manifest.with_name(f"{manifest.name}.{os.getpid()}.partial")
    partial.write_text(json.dumps(body))
    os.replace(partial, manifest)
    return True


def bundle_current(*, manifest: Path, onnx_name: str) -> bool:
    """Whether `manifest` describes the export `onnx_name` with every part this version writes."""
    try:
        body = json.loads(manifest.read_text())
    except (OSError, ValueError):
        return False
    return body.get("onnx") == onnx_name and "onnx_int8" in body


def int8_quantize(*, onnx_path: Path) -> Path | None:
    """A dynamically quantised int8 copy of the export beside it (weights in int8 per output
    channel, activations quantised per batch: no calibration data needed), or None when
    quantisation fails. Per channel: one scale for a whole weight matrix agreed with fp32 at a
    mean cosine of 0.97 on the demo titles, per channel at 0.993 (bench/int8_encoder.py)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic  # noqa: PLC0415 - onnx: heavy, at export only

    target = onnx_path.with_name(onnx_path.name.replace(".onnx", ".int8pc.onnx"))
    if target.exists():
        return target
    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
    try:
        quantize_dynamic(str(onnx_path), str(partial), weight_type=QuantType.QInt8, per_channel=True)
        os.replace(partial, target)
    except Exception:
        # int8 is an option for query encoding, not a need: fp32 serves without it.
        logger.warning("the int8 variant of %s could not be made", onnx_path, exc_info=True)
        partial.unlink(missing_ok=True)
        return None
    return target


class BundleEncoder:
    """Sentence embeddings from a bundle, in numpy: the model's own numbers, no torch."""

    def __init__(self, *, manifest: Path, threads: int, precision: str = "fp32") -> None:
        import onnxruntime  # noqa: PLC0415 - onnxruntime: heavy, loaded when the encoder is first built
        from tokenizers import Tokenizer  # noqa: PLC0415 - tokenizers: loaded with the encoder, web processes only

        spec = json.loads(manifest.read_text())
        self.dimension = int(spec["dimension"])
        self.pooling: str = spec["pooling"]
        self.normalize: bool = spec["normalize"]
        self.input_names: list[str] = spec["input_names"]
        self.dense = [
            (
                np.asarray(layer["weight"], dtype=np.float32),
                None if layer["bias"] is None else np.asarray(layer["bias"], dtype=np.float32),
                ACTIVATIONS[layer["activation"]],
            )
            for layer in spec["dense"]
        ]
        self.tokenizer = Tokenizer.from_file(str(manifest.with_name(spec["tokenizer"])))
        self.max_length = int(spec["max_length"])
        self.tokenizer.enable_truncation(max_length=self.max_length)
        self.tokenizer.enable_padding(pad_id=int(spec["pad_id"]), pad_token=spec["pad_token"])
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # int8 when asked and made; fp32 otherwise.
        model_file = spec.get("onnx_int8") if precision == "int8" and spec.get("onnx_int8") else spec["onnx"]
        self.precision = "int8" if model_file != spec["onnx"] else "fp32"
        self.session = onnxruntime.InferenceSession(
            str(manifest.with_name(model_file)), options, providers=["CPUExecutionProvider"]
        )
        # The weights the session holds, about: embed's memory plan counts them (embeddings/budget.py).
        self.weight_bytes = manifest.with_name(model_file).stat().st_size

    def encode(self, texts: Sequence[str], *, batch_size: int) -> np.ndarray:
        """Embeddings of `texts` in order (float32, one row each)."""
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            chosen = order[start : start + batch_size]
            encodings = self.tokenizer.encode_batch([texts[i] for i in chosen])
            mask = np.asarray([e.attention_mask for e in encodings], dtype=np.int64)
            inputs = {
                "input_ids": np.asarray([e.ids for e in encodings], dtype=np.int64),
                "attention_mask": mask,
                "token_type_ids": np.asarray([e.type_ids for e in encodings], dtype=np.int64),
            }
            (hidden,) = self.session.run(None, {name: inputs[name] for name in self.input_names})
            out[chosen] = self._heads(hidden, mask)
        return out

    def _heads(self, hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
        weights = mask[:, :, None].astype(np.float32)
        if self.pooling == "mean":
            vectors = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        elif self.pooling == "cls":
            vectors = hidden[:, 0]
        else:
            vectors = np.where(weights > 0, hidden, -1e9).max(axis=1)
        for weight, bias, activation in self.dense:
            vectors = activation(vectors @ weight.T + (0 if bias is None else bias))
        if self.normalize:
            vectors = vectors / np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)
        return vectors.astype(np.float32)


def bundle_encoder(*, directory: Path, location: str, precision: str = "fp32") -> BundleEncoder | None:
    """The bundle encoder of the model at `location`, or None when no bundle was written (or it
    cannot be read: the torch path answers then)."""
    manifest = manifest_path(directory=directory, location=location)
    if not manifest.exists():
        return None
    try:
        return BundleEncoder(
            manifest=manifest, threads=int(os.environ.get("OMP_NUM_THREADS") or 1), precision=precision
        )
    except Exception:
        # A bundle that cannot be read (cut short, from another version) costs the web tier its
        # lightness, not its service: the torch path answers.
        logger.warning("the embedding bundle %s cannot be read; encoding with torch", manifest, exc_info=True)
        return None
