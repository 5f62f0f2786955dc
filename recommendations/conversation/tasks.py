"""The conversation's worker task: the shipped local model completes a turn's prompt (the web
process never loads it); the request validates the answer (recommendations.conversation.model)."""

from __future__ import annotations

from recommendations.reasons.backend_choice import backend_current
from recsite.tasks import transient_task


@transient_task(acks_late=False)
def parse_turn(*, prompt: str, max_new_tokens: int) -> str:
    """The configured backend's completion of `prompt` ("" when it wrote nothing)."""
    [generated] = backend_current().generate(prompts=[prompt], max_new_tokens=max_new_tokens)
    return generated.text
