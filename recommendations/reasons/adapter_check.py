"""The offline check of a fine-tuned adapter against the base model it was trained on.

Two figures, each for the base model and for base + adapter on the same held-out examples (customers
the adapter never saw in training):

- held-out loss: the mean negative log-likelihood per target token of the examples' outputs given
  their prompts (the prompt's tokens are not scored);
- guardrail pass rate: the share of generations that `guardrails.reason_check` accepts, on the
  served reason prompt (the home feed's active reason template, else the default one) rendered for
  each check example's item and the history item that explains it.

The rule (`check_verdict`): the adapter passes when its held-out loss is below the base model's, its
pass rate is at least the base model's, and at least `REASON_ADAPTER_MIN_PASS_RATE`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from placements.public import Placement
from recommendations.reasons.basis import Basis, reason_variables
from recommendations.reasons.facts import product_facts
from recommendations.reasons.generation import MAX_NEW_TOKENS, catalog_brands
from recommendations.reasons.guardrails import ProductFacts, reason_check, reason_clean
from recommendations.reasons.local_lm import chat_text, generate_texts
from recommendations.reasons.lora import example_prompt
from recommendations.reasons.models import Purpose
from recommendations.reasons.pool import active_templates
from recommendations.reasons.templates import (
    DEFAULT_GROUNDED,
    DEFAULT_REASON_BODY,
    TemplateError,
    grounded_render,
    template_render,
)

# Held-out examples scored for the loss (one forward pass each).
LOSS_EXAMPLES = 200
# Check prompts generated, by each model.
CHECK_PROMPTS = 32


@dataclass(frozen=True)
class HeldOut:
    """A training or held-out example (`served_examples`: the served prompt and the grounded
    answer; a version trained before that keeps the instruction data's text), and the products it names."""

    instruction: str
    input: str
    output: str
    target_pk: int
    seed_pk: int


@dataclass(frozen=True)
class CheckFigures:
    base_loss: float
    adapter_loss: float
    base_pass_rate: float
    adapter_pass_rate: float
    prompts: int
    floor: float

    @property
    def verdict(self) -> tuple[bool, str]:
        return check_verdict(
            base_loss=self.base_loss,
            adapter_loss=self.adapter_loss,
            base_pass_rate=self.base_pass_rate,
            adapter_pass_rate=self.adapter_pass_rate,
            floor=self.floor,
        )


def check_verdict(
    *,
    base_loss: float | None,
    adapter_loss: float | None,
    base_pass_rate: float | None,
    adapter_pass_rate: float | None,
    floor: float,
) -> tuple[bool, str]:
    """Whether the adapter passes (see the module doc), and both models' numbers in words."""
    if None in (base_loss, adapter_loss, base_pass_rate, adapter_pass_rate):
        return False, "it has not been checked (run the offline check)"
    words = (
        f"held-out loss {adapter_loss:.4f} against the base model's {base_loss:.4f}; guardrail pass rate "
        f"{adapter_pass_rate:.1%} against the base model's {base_pass_rate:.1%} (floor {floor:.0%})"
    )
    passed = adapter_loss < base_loss and adapter_pass_rate >= base_pass_rate and adapter_pass_rate >= floor
    return passed, words


def heldout_loss(*, model, tokenizer, device: str, examples: Sequence[HeldOut]) -> float:
    """Mean negative log-likelihood per output token of `examples` (one example per forward pass:
    left padding would shift the positions)."""
    import torch  # noqa: PLC0415 - torch: heavy, loaded by the check only

    total, tokens = 0.0, 0
    for example in examples:
        prompt = chat_text(tokenizer, example_prompt(example.instruction, example.input))
        prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        target_ids = tokenizer(example.output + tokenizer.eos_token, add_special_tokens=False)["input_ids"]
        ids = torch.tensor([prompt_ids + target_ids], device=device)
        labels = ids.clone()
        labels[0, : len(prompt_ids)] = -100
        with torch.inference_mode():
            loss = model(input_ids=ids, labels=labels).loss
        # The model's loss is the mean over the scored tokens, which are the targets shifted by one.
        total += float(loss) * len(target_ids)
        tokens += len(target_ids)
    if not tokens:
        raise ValueError("no held-out examples to score")
    return total / tokens


@dataclass(frozen=True)
class CheckCase:
    prompt: str
    item: ProductFacts
    history: tuple[ProductFacts, ...]


def _served_template() -> tuple[str, str]:
    """(prompt body, grounded source) of the home feed's served reason template (the built-in ones
    when none is active)."""
    served = [
        t
        for t in active_templates()
        if t.purpose == Purpose.REASON and t.placement == Placement.HOME_FEED and t.body.strip()
    ]
    if not served:
        return DEFAULT_REASON_BODY, DEFAULT_GROUNDED
    template = min(served, key=lambda t: t.id)
    return template.body, template.grounded or DEFAULT_GROUNDED


def _served_variables(examples: Sequence[HeldOut]) -> list[tuple[HeldOut, ProductFacts, ProductFacts, dict]]:
    """Each example with its item's and seed's facts and the template variables of its reason
    (item-CF, the route the instruction data's reasons describe); examples whose products were
    deleted are left out."""
    facts = product_facts(pks=[pk for e in examples for pk in (e.target_pk, e.seed_pk)])
    out = []
    for example in examples:
        item, seed = facts.get(example.target_pk), facts.get(example.seed_pk)
        if item is not None and seed is not None:
            variables = reason_variables(item=item, basis=Basis("itemcf", example.seed_pk), seed=seed, recent=[seed])
            out.append((example, item, seed, variables))
    return out


def _render(body: str, variables: dict) -> str:
    try:
        return template_render(source=body, variables=variables)
    except TemplateError:
        return template_render(source=DEFAULT_REASON_BODY, variables=variables)


def check_cases(*, examples: Sequence[HeldOut]) -> list[CheckCase]:
    """The served reason prompt for each example's item, explained by its seed."""
    body, _ = _served_template()
    return [
        CheckCase(prompt=_render(body, variables), item=item, history=(seed,))
        for _, item, seed, variables in _served_variables(examples)
    ]


def served_examples(*, examples: Sequence[HeldOut]) -> list[HeldOut]:
    """The examples as serving asks: the served reason prompt for the item and its seed, answered
    by the grounded reason of the same facts as a sentence. Trained on the instruction data's own
    wording, the adapter wrote worse reasons on the served prompt (guardrail pass rate 81% → 41%
    on Online Retail): it must learn the prompt it will be given."""
    body, grounded = _served_template()
    out = []
    for example, _, _, variables in _served_variables(examples):
        answer = grounded_render(source=grounded, variables=variables).strip()
        out.append(
            replace(
                example,
                instruction=_render(body, variables),
                input="",
                output=answer if answer.endswith((".", "!", "?")) else f"{answer}.",
            )
        )
    return out


def guardrail_pass_rate(*, model, tokenizer, device: str, cases: Sequence[CheckCase]) -> float:
    """The share of `cases` whose generated reason the guardrails accept."""
    if not cases:
        raise ValueError("no check prompts: the held-out examples' products are gone")
    outputs = generate_texts(
        model=model,
        tokenizer=tokenizer,
        device=device,
        prompts=[c.prompt for c in cases],
        max_new_tokens=MAX_NEW_TOKENS,
    )
    brands = catalog_brands()
    accepted = sum(
        reason_check(text=reason_clean(output.text), item=case.item, history=case.history, brands=brands).ok
        for case, output in zip(cases, outputs, strict=True)
    )
    return accepted / len(cases)


def adapter_check(
    *, peft_model, tokenizer, device: str, examples: Sequence[HeldOut], floor: float, prompts: int = CHECK_PROMPTS
) -> CheckFigures:
    """Both figures for the base model (the adapter switched off) and for base + adapter."""
    scored = list(examples[:LOSS_EXAMPLES])
    cases = check_cases(examples=examples[:prompts])
    with peft_model.disable_adapter():
        base_loss = heldout_loss(model=peft_model, tokenizer=tokenizer, device=device, examples=scored)
        base_rate = guardrail_pass_rate(model=peft_model, tokenizer=tokenizer, device=device, cases=cases)
    adapter_loss = heldout_loss(model=peft_model, tokenizer=tokenizer, device=device, examples=scored)
    adapter_rate = guardrail_pass_rate(model=peft_model, tokenizer=tokenizer, device=device, cases=cases)
    return CheckFigures(
        base_loss=base_loss,
        adapter_loss=adapter_loss,
        base_pass_rate=base_rate,
        adapter_pass_rate=adapter_rate,
        prompts=len(cases),
        floor=floor,
    )
