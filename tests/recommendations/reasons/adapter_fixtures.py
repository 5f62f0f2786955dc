"""Shared by the adapter tests: a shop whose customers bought two items or more (instruction
examples), and a real LoRA adapter of the small model trained for a few steps on CPU."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from catalog.models import EventType
from recommendations.reasons.instructions import INSTRUCTION
from recommendations.reasons.local_lm import model_load
from recommendations.reasons.lora import lora_train
from tests.factories import CustomerFactory, EventFactory, ProductFactory

NOW = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
EXAMPLE = {
    "instruction": INSTRUCTION,
    "input": "Recent purchases: WHITE MUG",
    "output": "BLUE TEAPOT. Because you bought WHITE MUG.",
}


def repeat_buyers_shop(customers: int = 4) -> dict:
    """Each customer bought the mug, then the teapot: one instruction example each."""
    products = {
        "mug": ProductFactory(external_id="mug", title="WHITE MUG", price="3.50"),
        "teapot": ProductFactory(external_id="teapot", title="BLUE TEAPOT", price="12.50"),
    }
    for n in range(customers):
        customer = CustomerFactory(external_id=f"buyer{n}")
        for days, name in ((2, "mug"), (1, "teapot")):
            EventFactory(
                customer=customer,
                product=products[name],
                type=EventType.PURCHASE,
                timestamp=NOW - dt.timedelta(days=days),
            )
    return products


def adapter_train_on_examples(directory: Path, *, steps: int = 4) -> Path:
    """A real adapter directory: LoRA on the small model (CPU) for a few steps on one example."""
    data = directory / "train.jsonl"
    data.write_text("\n".join(json.dumps(EXAMPLE) for _ in range(4)))
    lora_train(
        path=str(data),
        output_dir=str(directory / "adapter"),
        steps=steps,
        batch_size=2,
        loaded=model_load(source="", device="cpu", half=False),
    )
    return directory / "adapter"
