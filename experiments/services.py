"""Experiment lifecycle: launch, pause, complete, and the rules that keep a running split honest."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from experiments import serving
from experiments.assignment import slice_allocate
from experiments.models import Experiment, Kind, Layer, Status, Variant
from placements.public import (
    DefaultStrategy,
    RolloutError,
    StrategyError,
    default_strategies_forget,
    default_strategy_save,
    strategy_check,
    strategy_parse,
)

# Statuses under which customers have been split: the weights are part of the evidence then.
LAUNCHED = (Status.RUNNING, Status.PAUSED)
WEIGHTS_FROZEN = (
    "The variant weights of a launched experiment cannot change: customers already exposed were "
    "split by the old weights, so new ones would break the sample ratio (every check for sample-ratio "
    "mismatch would fail) and mix two populations in one comparison. Complete this experiment and "
    "launch a new one with the new split."
)


class ExperimentError(Exception):
    """A lifecycle step that cannot happen; the message says why, for the operator."""


def variant_config_check(*, config: object) -> None:
    """Raise ExperimentError unless the config is servable now: valid keys and routes, and what
    it names (a ranker, a reason template) live (the checks the engine registers)."""
    try:
        strategy_check(strategy_parse(config))
    except StrategyError as exc:
        raise ExperimentError(str(exc)) from exc


def experiment_validate_for_launch(*, experiment: Experiment, variants: list[Variant]) -> None:
    """Raise ExperimentError unless the experiment could be served as it stands."""
    if len(variants) < 2:
        raise ExperimentError("An experiment needs at least two variants.")
    if experiment.kind == Kind.INTERLEAVING and len(variants) != 2:
        raise ExperimentError(
            f"An interleaving experiment merges exactly two variants' lists; this one has {len(variants)}."
        )
    if sum(v.is_control for v in variants) != 1:
        raise ExperimentError("Exactly one variant must be the control.")
    for variant in variants:
        if variant.weight <= 0:
            raise ExperimentError(f"Variant {variant.key!r}: the weight must be above 0.")
        try:
            variant_config_check(config=variant.config)
        except ExperimentError as exc:
            raise ExperimentError(f"Variant {variant.key!r}: {exc}") from exc


def experiment_launch(*, experiment_id: int) -> Experiment:
    """Start (or resume) serving an experiment. At its first launch it takes a free slice of its
    layer's traffic (its traffic share of what the holdout leaves); a resumed one keeps its slice,
    so its customers keep their variants."""
    with transaction.atomic():
        experiment = Experiment.objects.select_for_update().get(pk=experiment_id)
        if experiment.status not in (Status.DRAFT, Status.PAUSED):
            raise ExperimentError(
                f"Only a draft or paused experiment can be launched; this one is {experiment.status}."
            )
        experiment_validate_for_launch(experiment=experiment, variants=list(experiment.variants.all()))
        layer, _ = Layer.objects.get_or_create(key=experiment.layer_key)
        # Launches in one layer wait for each other here: two cannot take the same slice.
        layer = Layer.objects.select_for_update().get(pk=layer.pk)
        launched = Experiment.objects.filter(status__in=LAUNCHED).exclude(pk=experiment.pk)
        other = next(
            (e for e in launched.filter(placement=experiment.placement) if e.layer_key != experiment.layer_key), None
        )
        if other is not None:
            raise ExperimentError(
                f"Experiment {other.key!r} on {experiment.get_placement_display()} is in layer {other.layer_key!r}: "
                "one placement's experiments share a layer (so no request gets two variants). "
                f"Put this one in layer {other.layer_key!r}, or complete {other.key!r} first."
            )
        if experiment.layer_start is None:
            _slice_take(experiment=experiment, layer=layer, launched=launched)
        experiment.status = Status.RUNNING
        experiment.started_at = experiment.started_at or timezone.now()
        experiment.save(update_fields=["status", "started_at", "layer_start", "layer_end"])
    serving.running_experiments_forget()
    return experiment


def layer_launched(*, layer: str) -> list[str]:
    """Keys of the running or paused experiments of `layer` (they hold slices of it)."""
    launched = _in_layer(Experiment.objects.filter(status__in=LAUNCHED), layer=layer).order_by("key")
    return list(launched.values_list("key", flat=True))


def _in_layer(experiments: QuerySet[Experiment], *, layer: str) -> QuerySet[Experiment]:
    """Those of `experiments` in `layer`: named so, or on the placement it is named after."""
    return experiments.filter(Q(layer=layer) | Q(layer="", placement=layer))


def _slice_take(*, experiment: Experiment, layer: Layer, launched: QuerySet[Experiment]) -> None:
    in_layer = _in_layer(launched, layer=layer.key)
    legacy = in_layer.filter(layer_start__isnull=True).first()
    if legacy is not None:
        raise ExperimentError(
            f"Experiment {legacy.key!r} in layer {layer.key!r} was launched before layers and keeps its own "
            "split of traffic: complete it before launching another experiment in its layer."
        )
    taken = list(in_layer.values_list("layer_start", "layer_end"))
    width = experiment.traffic_share * (1 - layer.holdout_share)
    found = slice_allocate(taken=taken, width=width, low=layer.holdout_share)
    if found is None:
        free = 1 - layer.holdout_share - sum(end - start for start, end in taken)
        raise ExperimentError(
            f"Layer {layer.key!r} has {free:.0%} of its traffic free (other experiments and the holdout hold the "
            f"rest); this experiment needs {width:.0%}. Lower its traffic share, or complete another experiment "
            "of the layer."
        )
    experiment.layer_start, experiment.layer_end = found


def experiment_pause(*, experiment_id: int) -> Experiment:
    """Stop serving a running experiment for now; its customers keep their variant on resume."""
    return _transition(experiment_id=experiment_id, allowed=(Status.RUNNING,), to=Status.PAUSED)


def experiment_complete(*, experiment_id: int) -> Experiment:
    """End an experiment for good; its results stay readable."""
    return _transition(experiment_id=experiment_id, allowed=LAUNCHED, to=Status.COMPLETED)


def _transition(*, experiment_id: int, allowed: tuple[str, ...], to: str) -> Experiment:
    with transaction.atomic():
        experiment = Experiment.objects.select_for_update().get(pk=experiment_id)
        if experiment.status not in allowed:
            raise ExperimentError(
                f"A {experiment.status} experiment cannot become {to} (only from {' or '.join(allowed)})."
            )
        experiment.status = to
        fields = ["status"]
        if to == Status.COMPLETED:
            experiment.stopped_at = timezone.now()
            fields.append("stopped_at")
        experiment.save(update_fields=fields)
    serving.running_experiments_forget()
    return experiment


def variants_change_check(*, experiment: Experiment, weights: Mapping[str, float]) -> None:
    """Refuse a change to the split of a launched experiment (`weights`: variant key → weight, the
    whole new set of variants). Raises ExperimentError with the reason; drafts change freely."""
    if experiment.pk is None or experiment.status not in LAUNCHED:
        return
    stored = dict(experiment.variants.values_list("key", "weight"))
    if stored != dict(weights):
        raise ExperimentError(WEIGHTS_FROZEN)


def variant_update(*, variant_id: int, weight: float | None = None, config: dict | None = None) -> Variant:
    """Change a variant's weight and/or strategy config, refusing a weight change once launched."""
    with transaction.atomic():
        variant = Variant.objects.select_for_update().select_related("experiment").get(pk=variant_id)
        if weight is not None and weight != variant.weight:
            weights = dict(variant.experiment.variants.values_list("key", "weight"))
            weights[variant.key] = weight
            variants_change_check(experiment=variant.experiment, weights=weights)
            if weight <= 0:
                raise ExperimentError("The weight must be above 0.")
            variant.weight = weight
        if config is not None:
            try:
                variant_config_check(config=config)
            except ExperimentError as exc:
                raise ExperimentError(f"Variant {variant.key!r}: {exc}") from exc
            variant.config = config
        variant.save()
    serving.running_experiments_forget()
    return variant


def variant_ship(*, experiment_id: int, variant_key: str, user: Any = None, share: int = 100) -> DefaultStrategy:
    """Make a variant's strategy its placement's default (a new version serving `share` percent of
    customers: below 100 a gradual rollout the operator raises) and complete the experiment: it
    has been decided. Both or neither; raises ExperimentError saying why not."""
    with transaction.atomic():
        experiment = Experiment.objects.select_for_update().filter(pk=experiment_id).first()
        if experiment is None:
            raise ExperimentError(f"There is no experiment {experiment_id}.")
        if experiment.status not in LAUNCHED:
            raise ExperimentError(
                f"A {experiment.status} experiment cannot ship a variant (only a running or paused one)."
            )
        variant = experiment.variants.filter(key=variant_key).first()
        if variant is None:
            raise ExperimentError(f"{experiment.key} has no variant {variant_key!r}.")
        try:
            shipped = default_strategy_save(
                placement=experiment.placement,
                config=variant.config,
                note=f"shipped from experiment {experiment.key}, variant {variant.key}",
                user=user,
                share=share,
            )
        except RolloutError as exc:
            raise ExperimentError(str(exc)) from exc
        except StrategyError as exc:
            raise ExperimentError(f"Variant {variant.key!r} cannot serve as the default: {exc}") from exc
        experiment.status, experiment.stopped_at = Status.COMPLETED, timezone.now()
        experiment.save(update_fields=["status", "stopped_at"])
        # Other requests of this process must not keep the old default or the experiment past the commit.
        transaction.on_commit(default_strategies_forget)
        transaction.on_commit(serving.running_experiments_forget)
    return shipped
