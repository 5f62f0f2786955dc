"""Which text-generation backend serves (`REASON_BACKEND`), built once per process; for reasons,
the local model carries the active fine-tuned adapter (`adapter_serving`)."""

from __future__ import annotations

import functools

from django.conf import settings

from recommendations.reasons.adapter_serving import adapter_active
from recommendations.reasons.backends import BACKENDS, GROUNDED, OPENAI, TRANSFORMERS, Backend, GroundedBackend
from recommendations.reasons.local_lm import SMOLLM2_NAME, TransformersBackend
from recommendations.reasons.openai_api import OpenAIBackend


def backend_build(*, name: str) -> Backend:
    """A backend from the settings (the model's, the endpoint's)."""
    if name == GROUNDED:
        return GroundedBackend()
    if name == TRANSFORMERS:
        return TransformersBackend(model=settings.REASON_MODEL, device=settings.REASON_DEVICE)
    if name == OPENAI:
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
    return _backend(settings.REASON_BACKEND)


def backend_identity() -> tuple[str, str]:
    """(backend name, model) of the configured backend without loading a model (the request path)."""
    name = settings.REASON_BACKEND
    if name == TRANSFORMERS:
        return name, settings.REASON_MODEL or SMOLLM2_NAME
    if name == OPENAI:
        return name, settings.REASON_OPENAI_MODEL
    return GROUNDED, ""


def reasons_backend(name: str | None = None) -> Backend:
    """The backend that writes reasons (`name`, default the configured one): the local model with
    the active adapter on it, if any (rerank and conversations use the base: `backend_current`)."""
    backend = _backend(name or settings.REASON_BACKEND)
    if isinstance(backend, TransformersBackend):
        return backend.adapted(adapter_active())
    return backend


def reasons_identity() -> tuple[str, str]:
    """(backend name, model) that reasons are written and cached under, without loading a model:
    `<base>+adapter@v<n>` while an adapter trained on the configured base is active."""
    name, model = backend_identity()
    if name == TRANSFORMERS:
        adapter = adapter_active()
        if adapter is not None and adapter.base_model == model:
            return name, adapter.label
    return name, model
