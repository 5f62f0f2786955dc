"""The admin preview: a template rendered for a chosen customer and item, and what the configured
backend writes for it (the admin may wait for a model; the API never does)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from django.db import connection

from catalog.public import Customer, Product
from placements.public import Placement
from recommendations.contracts import PlacementRequest
from recommendations.history import customer_history
from recommendations.reasons.backend_choice import backend_current
from recommendations.reasons.backends import GROUNDED, Backend
from recommendations.reasons.basis import Basis, reason_variables, semantic_seeds
from recommendations.reasons.facts import product_facts
from recommendations.reasons.generation import MAX_NEW_TOKENS, catalog_brands
from recommendations.reasons.guardrails import reason_check, reason_clean
from recommendations.reasons.models import PromptTemplateVersion, Purpose
from recommendations.reasons.rerank import rerank_parse
from recommendations.reasons.templates import DEFAULT_GROUNDED, template_render
from recommendations.serving import placement_answer


class PreviewError(ValueError):
    """Unknown customer or product; the message names which."""


@dataclass(frozen=True)
class Preview:
    backend: str
    model: str
    route: str
    seed: str | None
    prompt: str
    grounded: str
    output: str
    accepted: bool
    guardrail: str = ""
    detail: str = ""
    # rerank: the candidate ids in the order served
    order: list[str] = field(default_factory=list)


def preview_basis(*, product_pk: int, history_pks: list[int], history_weights: list[float]) -> Basis:
    """How the feed would explain this item for this history: its strongest item-CF seed, else the
    nearest history item, else popularity."""
    if not history_pks:
        return Basis(route="popularity")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n.product_id FROM catalog_itemneighbor n"
            " JOIN unnest(%s::bigint[], %s::float8[]) AS h(product_id, weight) ON n.product_id = h.product_id"
            " WHERE n.neighbor_id = %s ORDER BY n.score * h.weight DESC, n.product_id LIMIT 1",
            [history_pks, history_weights, product_pk],
        )
        row = cursor.fetchone()
    if row:
        return Basis(route="itemcf", seed_pk=row[0])
    seed = semantic_seeds(product_pks=[product_pk], history_pks=history_pks).get(product_pk)
    return Basis(route="semantic", seed_pk=seed) if seed else Basis(route="popularity")


def template_preview(
    *, version_id: int, customer_id: str, product_id: str = "", backend: Backend | None = None
) -> Preview:
    """Render the version for the customer (and, for a reason template, the item) and generate."""
    version = PromptTemplateVersion.objects.select_related("template").get(pk=version_id)
    if not Customer.objects.filter(external_id=customer_id).exists():
        raise PreviewError(f"no customer with id {customer_id!r}")
    backend = backend or backend_current()
    history = customer_history(customer_id=customer_id)
    if version.template.purpose == Purpose.RERANK:
        return _rerank_preview(
            version=version, customer_id=customer_id, history_pks=list(history.product_pks), backend=backend
        )
    product_pk = Product.objects.filter(external_id=product_id).values_list("pk", flat=True).first()
    if product_pk is None:
        raise PreviewError(f"no product with id {product_id!r}")
    basis = preview_basis(
        product_pk=product_pk, history_pks=list(history.product_pks), history_weights=list(history.weights)
    )
    facts = product_facts(pks=[product_pk, *history.product_pks[:10]])
    seed = facts.get(basis.seed_pk) if basis.seed_pk else None
    recent = [facts[pk] for pk in history.product_pks[:10] if pk in facts]
    variables = reason_variables(item=facts[product_pk], basis=basis, seed=seed, recent=recent)
    prompt = template_render(source=version.body, variables=variables)
    grounded = template_render(source=version.grounded or DEFAULT_GROUNDED, variables=variables)
    if backend.name == GROUNDED:
        output, verdict_ok, code, detail = grounded, True, "", ""
    else:
        output = backend.generate(prompts=[prompt], max_new_tokens=MAX_NEW_TOKENS)[0].text
        verdict = reason_check(
            text=reason_clean(output), item=facts[product_pk], history=recent, brands=catalog_brands()
        )
        verdict_ok, code, detail = verdict.ok, verdict.code, verdict.detail
    return Preview(
        backend=backend.name,
        model=backend.model,
        route=basis.route,
        seed=seed.title if seed else None,
        prompt=prompt,
        grounded=grounded,
        output=output,
        accepted=verdict_ok,
        guardrail=code,
        detail=detail,
    )


def _rerank_preview(
    *, version: PromptTemplateVersion, customer_id: str, history_pks: list[int], backend: Backend
) -> Preview:
    feed = placement_answer(
        request=PlacementRequest(placement=Placement.HOME_FEED, customer_id=customer_id, k=10, reasons=False)
    )
    ids = [item.product_id for item in feed.items]
    facts = product_facts(pks=[item.product_pk for item in feed.items] + history_pks[:10])
    candidates = [facts[item.product_pk].as_variables() for item in feed.items if item.product_pk in facts]
    recent = [facts[pk].as_variables() for pk in history_pks[:10] if pk in facts]
    prompt = template_render(
        source=version.body, variables={"candidates": candidates, "n": len(candidates), "recent_items": recent}
    )
    output = (
        "" if backend.name == GROUNDED else backend.generate(prompts=[prompt], max_new_tokens=8 * len(ids) + 8)[0].text
    )
    result = rerank_parse(output=output, candidate_ids=ids)
    return Preview(
        backend=backend.name,
        model=backend.model,
        route="",
        seed=None,
        prompt=prompt,
        grounded="",
        output=output or json.dumps(ids),
        accepted=result.valid,
        guardrail="" if result.valid else "invalid_order",
        order=result.order,
    )
