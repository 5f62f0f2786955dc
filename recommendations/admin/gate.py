"""The offline gate in the admin: *Evaluate* on default-strategy versions and on experiments (their
variants) queues `evaluate_strategy`; the run shows in Evaluation runs beside the serving default.

Placements and experiments sit below the engine and may not import it, so the actions are added
here to their registered ModelAdmins through the admin site's registry (Django imports the admin
modules in INSTALLED_APPS order, theirs before this one). Their admin modules stay unaware of it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from experiments.public import Experiment
from placements.public import DefaultStrategy, StrategyError
from recommendations.evaluation.gate import (
    DEFAULT,
    STRATEGY,
    gate_comparison,
    gate_data_check,
    gate_strategy,
)
from recommendations.evaluation.runner import EvaluationError
from recommendations.models import EvaluationRun
from recommendations.tasks import evaluate_strategy

# Each evaluation is a batch job on the one-at-a-time gpu queue: a handful per click at most.
MAX_AT_ONCE = 5
LABELS = {
    "ndcg@10": "NDCG@10",
    "recall@10": "Recall@10",
    "coverage": "coverage",
    "users": "users",
    "seconds": "seconds",
}


def gate_enqueue(
    modeladmin: admin.ModelAdmin, request: HttpRequest, *, config: Any, name: str, placement: str, source: str
) -> bool:
    """Check and queue one evaluation; a refusal is told to the user and nothing is queued."""
    try:
        gate_strategy(config=config, name=name, placement=placement)
        gate_data_check()
    except (StrategyError, EvaluationError) as exc:
        modeladmin.message_user(request, f"Not evaluated, {name}: {exc}", messages.ERROR)
        return False
    evaluate_strategy.delay(config=config, name=name, placement=placement, source=source)
    return True


def _queued_message(modeladmin: admin.ModelAdmin, request: HttpRequest, names: list[str]) -> None:
    if not names:
        return
    modeladmin.message_user(
        request,
        format_html(
            "Evaluating {} offline against the serving default of its placement (latest window). "
            'The result appears under <a href="{}">Evaluation runs</a> when the task finishes.',
            ", ".join(names),
            reverse("admin:recommendations_evaluationrun_changelist"),
        ),
        messages.SUCCESS,
    )


def _too_many(modeladmin: admin.ModelAdmin, request: HttpRequest, count: int) -> bool:
    if count <= MAX_AT_ONCE:
        return False
    modeladmin.message_user(request, f"Select at most {MAX_AT_ONCE} at a time (each is a batch job).", messages.ERROR)
    return True


@admin.action(permissions=["add"], description="Evaluate offline against the serving default")
def evaluate_default_versions(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[DefaultStrategy]
) -> None:
    versions = list(queryset.order_by("placement", "version")[: MAX_AT_ONCE + 1])
    if _too_many(modeladmin, request, len(versions)):
        return
    queued = []
    for version in versions:
        name = f"{version.placement}@v{version.version}"
        if gate_enqueue(
            modeladmin,
            request,
            config=version.config,
            name=name,
            placement=version.placement,
            source=f"default strategy version {name}",
        ):
            queued.append(name)
    _queued_message(modeladmin, request, queued)


@admin.action(permissions=["change"], description="Evaluate its variants offline against the serving default")
def evaluate_experiment_variants(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Experiment]
) -> None:
    variants = [
        variant for experiment in queryset.prefetch_related("variants") for variant in experiment.variants.all()
    ]
    if _too_many(modeladmin, request, len(variants)):
        return
    queued = []
    for variant in variants:
        name = str(variant)
        if gate_enqueue(
            modeladmin,
            request,
            config=variant.config,
            name=name,
            placement=variant.experiment.placement,
            source=f"experiment variant {name}" + (" (control)" if variant.is_control else ""),
        ):
            queued.append(name)
    _queued_message(modeladmin, request, queued)


def action_add(model: type[Model], action: Callable[..., None]) -> None:
    """Offer `action` on `model`'s registered ModelAdmin (raises NotRegistered when it has none)."""
    model_admin = admin.site.get_model_admin(model)
    if action not in (model_admin.actions or ()):
        model_admin.actions = [*(model_admin.actions or ()), action]


action_add(DefaultStrategy, evaluate_default_versions)
action_add(Experiment, evaluate_experiment_variants)


def _number(metric: str, value: float | None, *, signed: bool = False) -> str:
    if value is None:
        return "—"
    digits = {"users": 0, "seconds": 1}.get(metric, 4)
    # A difference that rounds to nothing reads +0, never -0.
    value = round(value, digits) + 0.0
    if metric == "users":
        return f"{value:+.0f}" if signed else f"{value:.0f}"
    if metric == "seconds":
        return f"{value:+.1f}" if signed else f"{value:.1f}"
    return f"{value:+.4f}" if signed else f"{value:.4f}"


def gate_table(run: EvaluationRun) -> SafeString | str:
    """The strategy's numbers beside the serving default's and the difference (gate runs only)."""
    rows = gate_comparison(run)
    if not rows:
        return "—"
    gate = run.protocol["gate"]
    notes = [
        f"placement {gate.get('placement', '')}, source: {gate.get('source') or 'not given'}",
        f"window: cutoff {run.protocol.get('cutoff', '')} ({gate.get('window', '')})",
        gate.get("not_evaluated", ""),
    ]
    for role in (STRATEGY, DEFAULT):
        ranker = run.protocol.get("arms", {}).get(role, {}).get("ranker")
        if ranker:
            words = (
                "applied" if ranker.get("applied") else f"NOT applied ({ranker.get('why', '')}); fused order measured"
            )
            notes.append(f"{gate[role]['name']}: ranker {ranker.get('name', '')} {words}")
    body = format_html_join(
        "",
        "<tr><th>{}</th><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (
                LABELS.get(metric, metric),
                _number(metric, mine),
                _number(metric, theirs),
                _number(metric, delta, signed=True),
            )
            for metric, mine, theirs, delta in rows
        ),
    )
    return format_html(
        '<table class="gate-comparison"><thead><tr><th>metric</th><th>{} (evaluated)</th>'
        "<th>{} (serving default)</th><th>difference</th></tr></thead><tbody>{}</tbody></table>"
        "<ul>{}</ul>",
        gate[STRATEGY]["name"],
        gate[DEFAULT]["name"],
        body,
        format_html_join("", "<li>{}</li>", ((note,) for note in notes if note)),
    )


def gate_summary(run: EvaluationRun) -> str:
    """One line for the runs' list, e.g. `home_feed@v3 vs home_feed@v2: NDCG@10 0.1234 vs 0.1000 (+0.0234)`."""
    rows = {metric: (mine, theirs, delta) for metric, mine, theirs, delta in gate_comparison(run)}
    if not rows:
        return ""
    gate = run.protocol["gate"]
    parts = [
        f"{LABELS[metric]} {_number(metric, mine)} vs {_number(metric, theirs)} ({_number(metric, delta, signed=True)})"
        for metric, (mine, theirs, delta) in rows.items()
        if metric in ("ndcg@10", "recall@10", "coverage")
    ]
    return f"{gate[STRATEGY]['name']} vs {gate[DEFAULT]['name']}: " + "; ".join(parts)
