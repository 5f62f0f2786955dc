"""LoRA fine-tuning of the reason model on `export_instructions` output (peft).

Adapters on the attention projections; the base model stays frozen. On a GPU worker it trains in
fp16 autocast; on CPU it runs too (tests run a few steps on the small model). The adapter is saved
with `save_pretrained` under `output_dir`, with a report of the run.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from recommendations.reasons.local_lm import chat_text, device_pick, model_load

LORA_RANK = 8
LEARNING_RATE = 2e-4
MAX_TOKENS = 256


@dataclass(frozen=True)
class LoraReport:
    examples: int
    steps: int
    first_loss: float
    last_loss: float
    seconds: float
    device: str
    output_dir: str


def example_prompt(instruction: str, text: str) -> str:
    """An example's prompt: the instruction, then its input when it has one (an example made from
    the served prompt has none, and is then exactly what serving sends)."""
    return f"{instruction}\n{text}" if text else instruction


def lora_train(
    *,
    path: str,
    output_dir: str,
    steps: int = 100,
    model: str = "",
    batch_size: int = 4,
    loaded: tuple[object, object, str] | None = None,
) -> LoraReport:
    """Train LoRA adapters for `steps` steps on the JSON Lines file at `path`.

    `loaded`: a (model, tokenizer, device) this process holds already (its weights get the adapters).
    """
    examples = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    if not examples:
        raise ValueError(f"{path} holds no examples")
    report, _ = lora_fit(
        examples=examples, output_dir=output_dir, steps=steps, model=model, batch_size=batch_size, loaded=loaded
    )
    return report


def lora_fit(
    *,
    examples: list[dict],
    output_dir: str,
    steps: int = 100,
    model: str = "",
    batch_size: int = 4,
    loaded: tuple[object, object, str] | None = None,
) -> tuple[LoraReport, object]:
    """Train LoRA adapters on `{instruction, input, output}` examples and save them in `output_dir`;
    returns the report and the peft model (base + adapter, in eval mode) for an offline check."""
    import torch  # noqa: PLC0415 - torch: heavy, loaded by LoRA training only
    from peft import LoraConfig, get_peft_model  # noqa: PLC0415 - peft: heavy, loaded by LoRA training only

    if not examples:
        raise ValueError("no examples to train on")
    began = time.perf_counter()
    # fp32 weights: the optimizer steps the adapters in full precision; autocast runs fp16 on cuda.
    base, tokenizer, device = loaded or model_load(source=model, device=device_pick(), half=False)
    texts = [
        chat_text(tokenizer, example_prompt(e["instruction"], e["input"])) + e["output"] + tokenizer.eos_token
        for e in examples
    ]
    peft_model = get_peft_model(
        base,
        LoraConfig(r=LORA_RANK, lora_alpha=2 * LORA_RANK, lora_dropout=0.05, target_modules=["q_proj", "v_proj"]),
    )
    peft_model.train()
    optimizer = torch.optim.AdamW([p for p in peft_model.parameters() if p.requires_grad], lr=LEARNING_RATE)
    losses = []
    for step in range(steps):
        batch = [texts[(step * batch_size + j) % len(texts)] for j in range(batch_size)]
        encoded = tokenizer(batch, return_tensors="pt", padding=True, truncation=True, max_length=MAX_TOKENS).to(device)
        labels = encoded["input_ids"].masked_fill(encoded["attention_mask"] == 0, -100)
        with torch.autocast(device_type="cuda", dtype=torch.float16, enabled=device == "cuda"):
            loss = peft_model(**encoded, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(float(loss.detach()))
    peft_model.eval()
    Path(output_dir).mkdir(parents=True, exist_ok=True)
    peft_model.save_pretrained(output_dir)
    report = LoraReport(
        examples=len(examples),
        steps=steps,
        first_loss=losses[0] if losses else 0.0,
        last_loss=losses[-1] if losses else 0.0,
        seconds=time.perf_counter() - began,
        device=device,
        output_dir=output_dir,
    )
    (Path(output_dir) / "report.json").write_text(json.dumps(report.__dict__, indent=2))
    return report, peft_model
