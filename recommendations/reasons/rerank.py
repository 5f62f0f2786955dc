"""LLM rerank (retrieval-augmented reranking): a language model orders the top N candidates.

The rerank template gets the candidates with their ids; the model answers a JSON array of ids.
Ids outside the candidate list are dropped (no invented items), repeats are dropped, candidates
the model left out follow in the ranker's order, and output that is not such an array keeps the
ranker's order. Like reasons, the request path never waits for a model: it serves a cached order
for this exact candidate list, or the ranker's order while generation is enqueued.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass

from catalog.public import Product
from recommendations.reasons import cache
from recommendations.reasons.backend_choice import backend_current, backend_identity
from recommendations.reasons.backends import Backend
from recommendations.reasons.facts import product_facts
from recommendations.reasons.models import Generation, PromptTemplateVersion, Purpose
from recommendations.reasons.templates import template_render
from recsite.metrics import fallback_count

logger = logging.getLogger(__name__)
_ARRAY = re.compile(r"\[[^\[\]]*\]", re.S)
MAX_NEW_TOKENS_PER_ITEM = 8


@dataclass(frozen=True)
class RerankResult:
    order: list[str]
    # False when the output held no usable JSON array of candidate ids (the ranker's order stands).
    valid: bool
    dropped: tuple[str, ...] = ()


def rerank_parse(*, output: str, candidate_ids: Sequence[str]) -> RerankResult:
    """The order a model's output asks for, restricted to `candidate_ids` (see the module doc)."""
    known = set(candidate_ids)
    for match in _ARRAY.finditer(output):
        try:
            values = json.loads(match.group(0))
        except ValueError:
            continue
        ids = [str(v) for v in values if isinstance(v, str | int) and not isinstance(v, bool)]
        chosen = list(dict.fromkeys(i for i in ids if i in known))
        if chosen:
            rest = [i for i in candidate_ids if i not in set(chosen)]
            return RerankResult(order=chosen + rest, valid=True, dropped=tuple(i for i in ids if i not in known))
    return RerankResult(order=list(candidate_ids), valid=False)


def rerank_key(*, version_id: int, candidate_ids: Sequence[str]) -> str:
    backend, model = backend_identity()
    return cache.cache_key(
        purpose=Purpose.RERANK,
        version_id=version_id,
        product_pk=None,
        route="",
        seed_pk=None,
        backend=backend,
        model=model,
        extra=",".join(candidate_ids),
    )


def rerank_generate(
    *, version_id: int, candidate_ids: Sequence[str], history_pks: Sequence[int] = (), backend: Backend | None = None
) -> RerankResult:
    """Ask the backend to order `candidate_ids` and cache the order (its text: a JSON array)."""
    backend = backend or backend_current()
    version = PromptTemplateVersion.objects.get(pk=version_id)
    pks = dict(Product.objects.filter(external_id__in=candidate_ids).values_list("external_id", "pk"))
    facts = product_facts(pks=list(pks.values()) + list(history_pks))
    candidates = [facts[pks[i]].as_variables() for i in candidate_ids if i in pks and pks[i] in facts]
    recent = [facts[pk].as_variables() for pk in history_pks if pk in facts]
    prompt = template_render(
        source=version.body, variables={"candidates": candidates, "n": len(candidates), "recent_items": recent}
    )
    began = time.perf_counter()
    output = backend.generate(prompts=[prompt], max_new_tokens=MAX_NEW_TOKENS_PER_ITEM * len(candidates) + 8)[0]
    if output.failure:
        # Not cached (as for reasons): the ranker's order is served until a later task gets an answer.
        fallback_count(stage="rerank", reason=f"llm_{output.failure}")
        return RerankResult(order=list(candidate_ids), valid=False)
    result = rerank_parse(output=output.text, candidate_ids=candidate_ids)
    Generation.objects.bulk_create(
        [
            Generation(
                key=rerank_key(version_id=version_id, candidate_ids=candidate_ids),
                purpose=Purpose.RERANK,
                template_version_id=version_id,
                backend=backend.name,
                model=backend.model,
                prompt=prompt,
                output=output.text,
                text=json.dumps(result.order),
                accepted=result.valid,
                guardrail="" if result.valid else "invalid_order",
                latency_ms=(time.perf_counter() - began) * 1000,
            )
        ],
        ignore_conflicts=True,
    )
    return result
