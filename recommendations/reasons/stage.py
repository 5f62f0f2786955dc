"""The reasons stage of the serving path: every item of a list gets its reason, never waiting for
a model.

The grounded backend renders the template's grounded text (memory-cached per key). A language-model
backend serves the cached generation when there is one; otherwise the grounded reason, and the
missing keys are enqueued for generation (`tasks.generate_reasons`, queue `gpu`). A generation that
failed (the endpoint timed out) is not cached, so its key stays missing: the grounded reason is
served and generation asked for again after `PENDING_SECONDS`. Each item says which it got
(`reason_source`).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Mapping, Sequence

from placements.public import Strategy
from recommendations.contracts import REASON_GENERATED, REASON_GROUNDED, ScoredItem
from recommendations.embeddings.customers import HISTORY_ITEMS
from recommendations.reasons import cache
from recommendations.reasons.backend_choice import backend_identity, reasons_identity
from recommendations.reasons.backends import GROUNDED
from recommendations.reasons.basis import SEMANTIC, Basis, basis_of, reason_variables, semantic_seeds
from recommendations.reasons.facts import catalog_facts
from recommendations.reasons.generation import ReasonSpec, reason_key
from recommendations.reasons.guardrails import ProductFacts
from recommendations.reasons.models import Purpose
from recommendations.reasons.pool import ActiveTemplate, reason_serving_log, template_choose
from recommendations.reasons.rerank import rerank_key, rerank_parse
from recommendations.reasons.tasks import generate_reasons, generate_rerank
from recommendations.reasons.templates import grounded_render
from recsite.metrics import reason_cache_count

logger = logging.getLogger(__name__)
# A key enqueued for generation is not enqueued again by this process for this long.
PENDING_SECONDS = 300.0

_pending_lock = threading.Lock()
_pending: dict[str, float] = {}


def item_bases(*, items: Sequence[ScoredItem], strategy: Strategy, history_pks: Sequence[int]) -> list[Basis]:
    """Each item's basis. Semantic seeds (the nearest history item) are looked up only where a
    semantic route decided, from memory for a history seen before, else in one query."""
    bases = [basis_of(item=item, weights=strategy.routes) for item in items]
    need = [item.product_pk for item, b in zip(items, bases, strict=True) if b.route == SEMANTIC and b.seed_pk is None]
    if not need or not history_pks:
        return bases
    # The semantic route builds the customer from these recent items; the nearest of them is the seed.
    history = tuple(history_pks[:HISTORY_ITEMS])
    # The history's hash stands for it in the keys: a customer's repeat request hits memory.
    keys = {pk: (hash(history), pk) for pk in need}
    remembered = cache.seeds_get_many(keys.values())
    seeds = {pk: remembered[key] for pk, key in keys.items() if key in remembered}
    missing = [pk for pk in need if pk not in seeds]
    if missing:
        found = semantic_seeds(product_pks=missing, history_pks=history)
        seeds.update(found)
        # 0 (no product has it) remembers "no seed" as well, so it is not looked up again.
        cache.seeds_put_many({keys[pk]: found.get(pk, 0) for pk in missing})
    return [
        Basis(route=b.route, seed_pk=seeds.get(item.product_pk) or None)
        if b.route == SEMANTIC and b.seed_pk is None
        else b
        for item, b in zip(items, bases, strict=True)
    ]


def reason_keys(
    *,
    template: ActiveTemplate,
    items: Sequence[ScoredItem],
    bases: Sequence[Basis],
    facts: Mapping[int, ProductFacts],
) -> list[str]:
    """Each item's cache key: its template version, basis, the backend and the facts it is written
    from (`facts`: pk → facts of the items and their seeds)."""
    backend, model = reasons_identity()
    return [
        reason_key(
            ReasonSpec(template.version_id, item.product_pk, b.route, b.seed_pk),
            backend=backend,
            model=model,
            facts=facts,
        )
        for item, b in zip(items, bases, strict=True)
    ]


def reason_facts(*, items: Sequence[ScoredItem], bases: Sequence[Basis]) -> dict[int, ProductFacts]:
    """pk → facts of the items (from the catalog rows they carry, where they do) and their seeds."""
    return catalog_facts(
        pks=[i.product_pk for i in items] + [b.seed_pk for b in bases if b.seed_pk is not None],
        rows={i.product_pk: i.catalog for i in items if i.catalog is not None},
    )


def grounded_reasons(
    *,
    template: ActiveTemplate,
    items: Sequence[ScoredItem],
    bases: Sequence[Basis],
    facts: Mapping[int, ProductFacts],
) -> list[str]:
    """The grounded reason of each item through the template, from `facts` (`reason_facts`)."""
    texts = []
    for item, b in zip(items, bases, strict=True):
        item_facts = facts.get(item.product_pk)
        seed = facts.get(b.seed_pk) if b.seed_pk is not None else None
        if item_facts is None:
            texts.append("")
            continue
        variables = reason_variables(
            item=item_facts, basis=b, seed=seed, recent=[seed] if seed else [], rules=[t.effect for t in item.rules]
        )
        texts.append(grounded_render(source=template.grounded, variables=variables))
    return texts


def reasons_attach(
    *,
    items: Sequence[ScoredItem],
    strategy: Strategy,
    history_pks: Sequence[int],
    recommendation_id: uuid.UUID,
    placement: str,
) -> tuple[ScoredItem, ...]:
    """`items` with their `reason` set (unchanged when the strategy turns reasons off)."""
    if not strategy.reasons or not items:
        return tuple(items)
    template, pooled = template_choose(placement=placement, name=strategy.reason_template)
    if template is None:
        return tuple(items)
    bases = item_bases(items=items, strategy=strategy, history_pks=history_pks)
    facts = reason_facts(items=items, bases=bases)
    keys = reason_keys(template=template, items=items, bases=bases, facts=facts)
    backend, _ = backend_identity()
    if backend == GROUNDED:
        found = cache.memory_get_many(keys)
        cache.stats["memory_hits"] += len(found)
    else:
        found = cache.cache_get_many(keys=keys)
    missing = [i for i, key in enumerate(keys) if key not in found]
    reason_cache_count(hits=len(keys) - len(missing), misses=len(missing))
    if missing:
        written = grounded_reasons(
            template=template, items=[items[i] for i in missing], bases=[bases[i] for i in missing], facts=facts
        )
        fallback = {keys[i]: cache.Cached(text, generated=False) for i, text in zip(missing, written, strict=True)}
        if backend == GROUNDED:
            cache.stats["misses"] += len(missing)
            cache.memory_put_many(fallback)
        else:
            _enqueue(
                template=template,
                items=[items[i] for i in missing],
                bases=[bases[i] for i in missing],
                keys=[keys[i] for i in missing],
            )
        found = {**fallback, **found}
    if pooled:
        reason_serving_log(recommendation_id=recommendation_id, template_id=template.id)
    # Every key has an entry by now: the missing ones got their grounded reason above.
    entries = [found[key] for key in keys]
    # Built directly: dataclasses.replace costs microseconds an item.
    return tuple(
        ScoredItem(
            product_pk=item.product_pk,
            product_id=item.product_id,
            title=item.title,
            score=item.score,
            routes=item.routes,
            ranked_score=item.ranked_score,
            rules=item.rules,
            seeds=item.seeds,
            reason=entry.text or None,
            reason_source=(REASON_GENERATED if entry.generated else REASON_GROUNDED) if entry.text else None,
            team=item.team,
            catalog=item.catalog,
        )
        for item, entry in zip(items, entries, strict=True)
    )


def _enqueue(
    *, template: ActiveTemplate, items: Sequence[ScoredItem], bases: Sequence[Basis], keys: Sequence[str]
) -> None:
    """One task for this list's missing keys (keys enqueued recently by this process are skipped)."""
    now = time.monotonic()
    with _pending_lock:
        fresh = [i for i, key in enumerate(keys) if _pending.get(key, 0.0) < now]
        for i in fresh:
            _pending[keys[i]] = now + PENDING_SECONDS
        if len(_pending) > cache.MEMORY_ENTRIES:
            _pending.clear()
    if not fresh:
        return
    specs = [[template.version_id, items[i].product_pk, bases[i].route, bases[i].seed_pk] for i in fresh]
    try:
        # No publish retries: with the broker down the shopper still gets the grounded reason now.
        generate_reasons.apply_async(kwargs={"specs": specs}, retry=False)
        cache.stats["enqueued"] += len(specs)
    except Exception:
        logger.warning("could not enqueue %d reason generations (broker down?)", len(specs), exc_info=True)
        with _pending_lock:
            for i in fresh:
                _pending.pop(keys[i], None)


# --- the LLM rerank of the top items (cached orders only; a miss is enqueued) ---------------------


def rerank_stage(
    *, items: Sequence[ScoredItem], strategy: Strategy, history_pks: Sequence[int], placement: str
) -> tuple[ScoredItem, ...]:
    """`items` with the top `strategy.llm_rerank_top_n` in the cached model order (if any)."""
    top_n = strategy.llm_rerank_top_n
    backend, _ = backend_identity()
    if not top_n or len(items) < 2 or backend == GROUNDED:
        return tuple(items)
    template, _ = template_choose(placement=placement, purpose=Purpose.RERANK)
    if template is None:
        return tuple(items)
    head, tail = list(items[:top_n]), list(items[top_n:])
    ids = [item.product_id for item in head]
    key = rerank_key(version_id=template.version_id, candidate_ids=ids)
    cached = cache.cache_get_many(keys=[key]).get(key)
    if cached is None:
        _rerank_enqueue(version_id=template.version_id, candidate_ids=ids, history_pks=history_pks)
        return tuple(items)
    order = rerank_parse(output=cached.text, candidate_ids=ids).order
    by_id = {item.product_id: item for item in head}
    # Pinned items keep their slots (a merchandiser's pin outranks any model); the others take
    # the model's order around them.
    pinned = {pos: item for pos, item in enumerate(head) if _pinned(item)}
    others = iter(by_id[i] for i in order if not _pinned(by_id[i]))
    return tuple([pinned[pos] if pos in pinned else next(others) for pos in range(len(head))] + tail)


def _pinned(item: ScoredItem) -> bool:
    return any(touch.kind == "pin" for touch in item.rules)


def _rerank_enqueue(*, version_id: int, candidate_ids: Sequence[str], history_pks: Sequence[int]) -> None:
    try:
        generate_rerank.apply_async(
            kwargs={
                "version_id": version_id,
                "candidate_ids": list(candidate_ids),
                "history_pks": list(history_pks[:10]),
            },
            retry=False,
        )
    except Exception:
        logger.warning("could not enqueue a rerank (broker down?)", exc_info=True)
