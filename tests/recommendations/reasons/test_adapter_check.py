"""The offline check of an adapter: the pass rule, and both figures with the real small model."""

import pytest

from recommendations.reasons.adapter_check import HeldOut, adapter_check, check_cases, check_verdict, served_examples
from recommendations.reasons.local_lm import model_load
from recommendations.reasons.lora import lora_fit
from tests.recommendations.reasons.adapter_fixtures import EXAMPLE, repeat_buyers_shop


@pytest.mark.parametrize(
    ("adapter_loss", "adapter_rate", "passed"),
    [
        (1.0, 0.8, True),
        (1.0, 0.7, True),  # the same pass rate as the base model's is enough
        (2.0, 0.9, False),  # loss not below the base model's
        (1.0, 0.6, False),  # pass rate below the base model's
    ],
)
def test_the_pass_rule_needs_a_lower_loss_and_no_fewer_passes(adapter_loss, adapter_rate, passed):
    verdict, words = check_verdict(
        base_loss=2.0, adapter_loss=adapter_loss, base_pass_rate=0.7, adapter_pass_rate=adapter_rate, floor=0.5
    )
    assert verdict is passed
    assert f"held-out loss {adapter_loss:.4f} against the base model's 2.0000" in words


def test_the_pass_rule_needs_the_floor_even_when_the_base_model_is_worse():
    verdict, words = check_verdict(
        base_loss=2.0, adapter_loss=1.0, base_pass_rate=0.1, adapter_pass_rate=0.3, floor=0.5
    )
    assert not verdict
    assert "guardrail pass rate 30.0% against the base model's 10.0% (floor 50%)" in words


def test_an_unchecked_version_does_not_pass():
    assert check_verdict(base_loss=None, adapter_loss=1.0, base_pass_rate=0.5, adapter_pass_rate=0.5, floor=0.5) == (
        False,
        "it has not been checked (run the offline check)",
    )


@pytest.mark.django_db
def test_check_prompts_are_the_served_reason_prompt_for_the_item_and_its_seed():
    shop = repeat_buyers_shop(customers=1)
    example = HeldOut(**EXAMPLE, target_pk=shop["teapot"].pk, seed_pk=shop["mug"].pk)
    gone = HeldOut(**EXAMPLE, target_pk=shop["teapot"].pk + 1000, seed_pk=shop["mug"].pk)

    cases = check_cases(examples=[example, gone])

    assert len(cases) == 1  # a product deleted since training drops out
    assert "Product: Blue Teapot\nFact: people who bought White Mug also bought it." in cases[0].prompt
    assert (cases[0].item.title, [h.title for h in cases[0].history]) == ("BLUE TEAPOT", ["WHITE MUG"])


@pytest.mark.django_db
def test_training_examples_are_the_served_prompt_answered_by_the_grounded_reason():
    # given the instruction data's example of a customer who bought the mug, then the teapot
    shop = repeat_buyers_shop(customers=1)
    example = HeldOut(**EXAMPLE, target_pk=shop["teapot"].pk, seed_pk=shop["mug"].pk)

    # when it is made into a training example
    [served] = served_examples(examples=[example])

    # then the prompt is exactly what serving sends for that item and seed, and the answer the
    # grounded reason of the same facts, as a sentence
    assert served.instruction == check_cases(examples=[example])[0].prompt and served.input == ""
    assert served.output == "Because you bought White Mug."
    assert (served.target_pk, served.seed_pk) == (example.target_pk, example.seed_pk)


@pytest.mark.slow
@pytest.mark.django_db
def test_an_adapter_trained_on_the_examples_has_the_lower_held_out_loss(tmp_path):
    shop = repeat_buyers_shop(customers=1)
    loaded = model_load(source="", device="cpu", half=False)
    _, peft_model = lora_fit(examples=[EXAMPLE] * 4, output_dir=str(tmp_path), steps=4, batch_size=2, loaded=loaded)
    heldout = [HeldOut(**EXAMPLE, target_pk=shop["teapot"].pk, seed_pk=shop["mug"].pk)] * 2

    figures = adapter_check(
        peft_model=peft_model, tokenizer=loaded[1], device="cpu", examples=heldout, floor=0.5, prompts=1
    )

    assert figures.adapter_loss < figures.base_loss
    assert figures.prompts == 1
    assert figures.base_pass_rate in (0.0, 1.0) and figures.adapter_pass_rate in (0.0, 1.0)
    assert figures.verdict[0] == (figures.adapter_pass_rate >= max(figures.base_pass_rate, 0.5))
