"""What each admin job runs on the worker: the existing preview and dry-run services, their
answers turned into JSON the page renders (the row keeps them; no pickles)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from django.core import serializers

from recommendations.adminjobs.models import JobKind
from recommendations.errors import UnknownProduct
from recommendations.preview import placement
from recommendations.preview.prompt import PreviewError, template_preview
from recommendations.reasons import adapters
from recommendations.reasons.backend_choice import _backend, reasons_backend
from recommendations.reasons.backends import BackendError
from recommendations.reasons.models import PromptTemplateVersion, Purpose, ReasonAdapter
from recommendations.reasons.templates import TemplateError
from recommendations.rules.editing import rule_dry_run


def prompt_preview(params: dict[str, Any]) -> dict[str, Any]:
    """params: version_id, backend, pairs [[customer, product], …] → each pair's preview or why not."""
    purpose = (
        PromptTemplateVersion.objects.filter(pk=params["version_id"])
        .values_list("template__purpose", flat=True)
        .first()
    )
    # A reason is previewed as served (with the active adapter); rerank runs on the base model.
    backend = reasons_backend(params["backend"]) if purpose == Purpose.REASON else _backend(params["backend"])
    results = []
    for customer_id, product_id in params["pairs"]:
        try:
            preview = template_preview(
                version_id=params["version_id"], customer_id=customer_id, product_id=product_id, backend=backend
            )
            results.append([customer_id, product_id, dataclasses.asdict(preview), ""])
        except (PreviewError, BackendError, TemplateError) as exc:
            results.append([customer_id, product_id, None, str(exc)])
    return {"results": results, "accepted": sum(1 for r in results if r[2] is not None and r[2]["accepted"])}


def placement_preview(params: dict[str, Any]) -> dict[str, Any]:
    """params: recommendation_preview's arguments → its table, history and rule notes, or the
    input's fault in words (an unknown product or variant)."""
    try:
        preview = placement.recommendation_preview(**params)
    except UnknownProduct as exc:
        return {"error": f"No product with id {exc.product_id!r}."}
    except ValueError as exc:
        return {"error": str(exc)}
    return {
        "placement": preview.placement,
        "strategy_label": preview.strategy_label,
        "ranker": preview.recommendation.ranker,
        "headers": list(preview.headers),
        "rows": [list(row) for row in preview.rows],
        "history": [dataclasses.asdict(row) for row in preview.history],
        "rule_notes": [dataclasses.asdict(note) for note in preview.rule_notes],
    }


def merch_rule_dry_run(params: dict[str, Any]) -> dict[str, Any]:
    """params: rule, the unsaved rule as Django's JSON serialisation → the dry run's counts and examples."""
    rule = next(serializers.deserialize("json", params["rule"])).object
    run = rule_dry_run(rule)
    return {
        "summary": run.summary,
        "matching_products": run.matching_products,
        "lists_checked": run.lists_checked,
        "lists_affected": run.lists_affected,
        "items_affected": run.items_affected,
        "examples": [{"rows": example.rows, "note": example.note} for example in run.examples],
    }


def adapter_train(params: dict[str, Any]) -> dict[str, Any]:
    """params: steps, limit (examples at most), user_id → the new version and its check, or why not."""
    try:
        adapter = adapters.adapter_train(steps=params["steps"], limit=params["limit"], user_id=params["user_id"])
    except adapters.AdapterError as exc:
        return {"error": str(exc)}
    return _adapter_result(adapter)


def adapter_check(params: dict[str, Any]) -> dict[str, Any]:
    """params: adapter_id → its offline check's figures and verdict, or why it could not run."""
    try:
        adapter = adapters.adapter_check_run(adapter_id=params["adapter_id"])
    except adapters.AdapterError as exc:
        return {"error": str(exc)}
    return _adapter_result(adapter)


def _adapter_result(adapter: ReasonAdapter) -> dict[str, Any]:
    passed, words = adapters.adapter_verdict(adapter)
    return {"adapter_id": adapter.pk, "version": adapter.version, "passed": passed, "verdict": words}


RUNNERS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    JobKind.PROMPT_PREVIEW: prompt_preview,
    JobKind.PLACEMENT_PREVIEW: placement_preview,
    JobKind.RULE_DRY_RUN: merch_rule_dry_run,
    JobKind.ADAPTER_TRAIN: adapter_train,
    JobKind.ADAPTER_CHECK: adapter_check,
}
