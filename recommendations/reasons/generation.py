"""Generation on workers: prompts rendered from templates, sent to the backend in batches,
checked by the guardrails, cached; and the periodic pre-generation for the most popular items.

Idempotent: keys already cached are skipped and rows are inserted with ON CONFLICT DO NOTHING, so
a task delivered twice generates nothing twice (beyond a race) and never overwrites.

A prompt the backend could not answer (the endpoint timed out, after its retries) is not cached:
counted in `recsite_fallbacks_total{stage="reasons", reason="llm_timeout"}` (or `llm_unreachable`,
`llm_error`), its key stays missing, and the API serves the grounded reason until a later task
generates it. A body that fails to render is skipped the same way (`template_error`).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from django.db import connection

from catalog.public import Product
from placements.public import Placement
from recommendations.badcases.cases import badcase_create
from recommendations.badcases.models import BadCaseSource
from recommendations.embeddings.knn import knn_dimension, knn_order_sql
from recommendations.reasons import cache
from recommendations.reasons.backend_choice import reasons_backend
from recommendations.reasons.backends import GROUNDED, Backend
from recommendations.reasons.basis import Basis, reason_variables
from recommendations.reasons.facts import facts_digest, product_facts
from recommendations.reasons.guardrails import ProductFacts, reason_check, reason_clean
from recommendations.reasons.models import Generation, PromptTemplate, PromptTemplateVersion, Purpose
from recommendations.reasons.templates import TemplateError, grounded_render, template_render
from recsite.metrics import fallback_count

logger = logging.getLogger(__name__)
# 48: the small model cut off at 32 tokens in a quarter of its reasons (bench/reasons_guardrails.py).
MAX_NEW_TOKENS = 48


@dataclass(frozen=True)
class ReasonSpec:
    """One reason to generate: template version, item, and how the item was chosen."""

    version_id: int
    product_pk: int
    route: str
    seed_pk: int | None = None


@dataclass(frozen=True)
class GenerationReport:
    requested: int
    cached_already: int
    generated: int
    accepted: int
    rejected: int
    seconds: float
    # Not generated: the backend failed (timeout, unreachable, error) or the body did not render.
    failed: int = 0


@functools.lru_cache(maxsize=1)
def _catalog_brands(_minute: int) -> frozenset[str]:
    return frozenset(b for b in Product.objects.exclude(brand="").values_list("brand", flat=True).distinct() if b)


def catalog_brands() -> frozenset[str]:
    """The catalog's brand names (reloaded at most once a minute)."""
    return _catalog_brands(int(time.time() // 60))


def reasons_generate(
    *,
    specs: Sequence[ReasonSpec],
    backend: Backend | None = None,
    max_new_tokens: int = MAX_NEW_TOKENS,
    placement: str = Placement.HOME_FEED,
) -> GenerationReport:
    """Generate, check and cache the reasons of `specs` that are not cached yet.

    Output failing a guardrail is stored with the grounded reason as its text and reported as a
    bad case (source reason_guardrail) naming the failed check; a prompt the backend did not
    answer is not stored (see the module doc).
    """
    began = time.perf_counter()
    backend = backend or reasons_backend()
    if backend.name == GROUNDED or not specs:
        return GenerationReport(len(specs), 0, 0, 0, 0, time.perf_counter() - began)
    # Read now, not kept: the keys name the facts the reasons are written from.
    facts = product_facts(pks=[s.product_pk for s in specs] + [s.seed_pk for s in specs if s.seed_pk])
    keyed = {
        reason_key(spec, backend=backend.name, model=backend.model, facts=facts): spec
        for spec in specs
        if spec.product_pk in facts
    }
    cached = set(Generation.objects.filter(key__in=list(keyed)).values_list("key", flat=True))
    todo = [(key, spec) for key, spec in keyed.items() if key not in cached]
    versions = PromptTemplateVersion.objects.in_bulk({spec.version_id for _, spec in todo})
    todo = [(key, spec) for key, spec in todo if spec.version_id in versions]
    rendered, prompts, grounded, failed = [], [], [], 0
    for key, spec in todo:
        version = versions[spec.version_id]
        seed = facts.get(spec.seed_pk) if spec.seed_pk else None
        variables = reason_variables(
            item=facts[spec.product_pk], basis=Basis(spec.route, spec.seed_pk), seed=seed, recent=[seed] if seed else []
        )
        try:
            prompts.append(template_render(source=version.body, variables=variables))
        except TemplateError as exc:
            logger.warning("reason prompt of template version %s failed to render: %s", spec.version_id, exc)
            fallback_count(stage="reasons", reason="template_error")
            failed += 1
            continue
        rendered.append((key, spec))
        grounded.append(grounded_render(source=version.grounded, variables=variables))
    outputs = backend.generate(prompts=prompts, max_new_tokens=max_new_tokens) if prompts else []
    rows, rejected = [], 0
    brands = catalog_brands()
    for (key, spec), prompt, fallback, output in zip(rendered, prompts, grounded, outputs, strict=True):
        if output.failure:
            # Nothing cached: a later request asks again, rather than the fallback being kept for good.
            fallback_count(stage="reasons", reason=f"llm_{output.failure}")
            failed += 1
            continue
        text = reason_clean(output.text)
        seed = facts.get(spec.seed_pk) if spec.seed_pk else None
        verdict = reason_check(text=text, item=facts[spec.product_pk], history=[seed] if seed else [], brands=brands)
        cache.latencies_ms.append(output.latency_ms)
        rows.append(
            Generation(
                key=key,
                purpose=Purpose.REASON,
                template_version_id=spec.version_id,
                product_id=spec.product_pk,
                route=spec.route,
                seed_id=spec.seed_pk,
                backend=backend.name,
                model=backend.model,
                prompt=prompt,
                output=output.text,
                text=text if verdict.ok else fallback,
                accepted=verdict.ok,
                guardrail=verdict.code,
                latency_ms=output.latency_ms,
            )
        )
        if not verdict.ok:
            rejected += 1
            badcase_create(
                source=BadCaseSource.REASON_GUARDRAIL,
                reason_code=verdict.code,
                text=output.text[:2000],
                product_id=facts[spec.product_pk].id,
                placement=placement,
                snapshot={
                    "detail": verdict.detail,
                    "prompt": prompt,
                    "served_instead": fallback,
                    "backend": backend.name,
                    "model": backend.model,
                    "route": spec.route,
                    "seed": seed.id if seed else None,
                    "template_version": spec.version_id,
                },
            )
    Generation.objects.bulk_create(rows, ignore_conflicts=True)
    cache.stats["generated"] += len(rows)
    cache.stats["rejected"] += rejected
    if failed:
        logger.warning("%d of %d reasons not generated: the grounded ones are served", failed, len(todo))
    return GenerationReport(
        requested=len(specs),
        cached_already=len(cached),
        generated=len(rows),
        accepted=len(rows) - rejected,
        rejected=rejected,
        seconds=time.perf_counter() - began,
        failed=failed,
    )


def reason_key(spec: ReasonSpec, *, backend: str, model: str, facts: Mapping[int, ProductFacts]) -> str:
    """The cache key of a reason: its template version, item, basis, the backend and model, and the
    item's and seed's facts it is written from (`facts`: pk → facts, the seed's among them)."""
    seed = facts.get(spec.seed_pk) if spec.seed_pk else None
    return cache.cache_key(
        purpose=Purpose.REASON,
        version_id=spec.version_id,
        product_pk=spec.product_pk,
        route=spec.route,
        seed_pk=spec.seed_pk,
        backend=backend,
        model=model,
        facts=facts_digest(facts.get(spec.product_pk), seed),
    )


# Generation rows checked a round: their products' facts are read in one query.
PRUNE_CHUNK = 2_000


def stale_reasons_prune(*, chunk: int = PRUNE_CHUNK) -> int:
    """Delete the cached reasons written from facts that are no longer the catalog's (a product or
    seed renamed, repriced or re-described since): no request asks for their keys again, and they
    would pile up with every edit. Returns how many were deleted. Walks the table by id, `chunk`
    rows at a time (memory: one chunk's rows and their products' facts)."""
    deleted, after = 0, 0
    rows = Generation.objects.filter(purpose=Purpose.REASON).order_by("id")
    while batch := list(
        rows.filter(id__gt=after).values_list(
            "id", "key", "template_version_id", "product_id", "route", "seed_id", "backend", "model"
        )[:chunk]
    ):
        after = batch[-1][0]
        facts = product_facts(pks=[pk for row in batch for pk in (row[3], row[5]) if pk])
        stale = [
            row_id
            for row_id, key, version_id, product_pk, route, seed_pk, backend, model in batch
            if key
            != reason_key(ReasonSpec(version_id, product_pk, route, seed_pk), backend=backend, model=model, facts=facts)
        ]
        deleted += Generation.objects.filter(id__in=stale).delete()[0]
    return deleted


def popular_reason_specs(
    *,
    top_n: int = 1000,
    seeds_per_item: int = 1000,
    semantic_seeds_per_item: int = 100,
    placement: str = Placement.HOME_FEED,
) -> list[ReasonSpec]:
    """What the home feed will most likely ask for the `top_n` most popular items, for each active
    reason template of the placement: the popularity reason; the item-CF reason from each of the
    `seeds_per_item` history items that most strongly propose the item (its strongest reverse
    neighbours); the semantic reason from each of its `semantic_seeds_per_item` nearest products.

    The defaults cover every item-CF seed (an item appears in at most a few hundred neighbour lists)
    and 100 semantic ones: on the demo data, about 134k reasons per template version and model, and
    97% of the popular items' reasons in sampled feeds (bench/reasons_cache.py)."""
    versions = list(
        PromptTemplate.objects.filter(
            purpose=Purpose.REASON, placement=placement, is_active=True, active_version__published_at__isnull=False
        ).values_list("active_version_id", flat=True)
    )
    if not versions or top_n <= 0:
        return []
    sql = (
        "WITH top AS (SELECT product_id FROM catalog_itempopularity ORDER BY score DESC, product_id LIMIT %s),"
        " seeds AS (SELECT n.neighbor_id AS item, n.product_id AS seed,"
        "  row_number() OVER (PARTITION BY n.neighbor_id ORDER BY n.score DESC, n.product_id) AS r"
        "  FROM catalog_itemneighbor n WHERE n.neighbor_id IN (SELECT product_id FROM top))"
        " SELECT product_id, NULL, 'popularity' FROM top"
        " UNION ALL SELECT item, seed, 'itemcf' FROM seeds WHERE r <= %s"
        " UNION ALL SELECT e.product_id, near.product_id, 'semantic'"
        "  FROM catalog_productembedding e JOIN top ON top.product_id = e.product_id CROSS JOIN LATERAL ("
        "   SELECT o.product_id FROM catalog_productembedding o WHERE o.product_id <> e.product_id"
        f"   ORDER BY {knn_order_sql(column='o.vector', query_sql='e.vector', dim=knn_dimension())} LIMIT %s) near"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [top_n, seeds_per_item, semantic_seeds_per_item])
        rows = cursor.fetchall()
    return [
        ReasonSpec(version_id=v, product_pk=item, route=route, seed_pk=seed)
        for v in versions
        for item, seed, route in rows
    ]
