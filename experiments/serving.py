"""The request path of experiments: which variant serves this customer, and the exposure log.

Assignment reads a per-process snapshot of the running experiments (refreshed every few
seconds, two queries) and hashes; it writes nothing. Exposures are written after the response
has gone out (`recsite.after_response`: a request's in one INSERT), so logging adds no database
round trip to what the storefront waits for. Outside a request (shell, tasks) they are written
at once.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connection
from django.utils import timezone

from experiments.assignment import assign, assign_in_slice, layer_unit
from experiments.models import Experiment, Exposure, Kind, Status
from placements.public import Strategy, StrategyError, strategy_parse
from recsite.after_response import write_after_response
from recsite.metrics import ENABLED, clicks_count
from recsite.snapshot import CachedSnapshot

logger = logging.getLogger(__name__)

# How stale a process's view of the running experiments may be; a launch or pause in another
# process reaches this one within this many seconds.
CACHE_SECONDS = 5.0
# The variant label of an interleaved list's exposures and clicks in the metrics.
INTERLEAVED = "interleaved"


@dataclass(frozen=True)
class RunningVariant:
    id: int
    key: str
    weight: float
    strategy: Strategy


@dataclass(frozen=True)
class RunningExperiment:
    id: int
    key: str
    salt: str
    traffic_share: float
    variants: tuple[RunningVariant, ...]
    layer: str = ""
    # Its slice of the layer, [start, end); None for an experiment launched before layers (its own
    # traffic hash decides who is in).
    layer_slice: tuple[float, float] | None = None
    kind: str = Kind.AB


@dataclass(frozen=True)
class Team:
    """One side of an interleaving experiment: its variant and strategy."""

    variant_key: str
    strategy: Strategy


@dataclass(frozen=True)
class Assignment:
    """The experiment and variant serving one request (ids and keys, no model rows).

    In an interleaving experiment there is no single variant: `teams` holds the control's side
    and the other's, the list merges both, and `variant_id`/`variant_key` are None.
    """

    experiment_id: int
    experiment_key: str
    variant_id: int | None
    variant_key: str | None
    strategy: Strategy
    teams: tuple[Team, Team] | None = None


def running_experiments() -> dict[str, RunningExperiment]:
    """Placement → its running experiments, from a snapshot at most CACHE_SECONDS old."""
    return _running.get()


def running_experiments_forget() -> None:
    """Drop this process's snapshot (after a launch, pause or edit made here)."""
    _running.forget()


def _running_experiments_load() -> dict[str, tuple[RunningExperiment, ...]]:
    by_placement: dict[str, tuple[RunningExperiment, ...]] = {}
    for experiment in Experiment.objects.filter(status=Status.RUNNING).prefetch_related("variants"):
        try:
            variants = tuple(
                RunningVariant(
                    id=v.pk,
                    key=v.key,
                    weight=v.weight,
                    strategy=strategy_parse(v.config, name=f"{experiment.key}/{v.key}"),
                )
                for v in experiment.variants.all()
            )
        except StrategyError:
            # Launch validates configs; one broken since (edited in the database) must not take
            # the placement down: its customers get the default strategy instead.
            logger.exception("experiment %s has an invalid variant config; not serving it", experiment.key)
            continue
        running = RunningExperiment(
            id=experiment.pk,
            key=experiment.key,
            salt=experiment.salt,
            traffic_share=experiment.traffic_share,
            variants=variants,
            layer=experiment.layer_key,
            layer_slice=None if experiment.layer_start is None else (experiment.layer_start, experiment.layer_end),
            kind=experiment.kind,
        )
        by_placement[experiment.placement] = (*by_placement.get(experiment.placement, ()), running)
    return by_placement


_running: CachedSnapshot[dict[str, tuple[RunningExperiment, ...]]] = CachedSnapshot(
    _running_experiments_load, max_age=CACHE_SECONDS
)


def experiment_assign(*, placement: str, customer_id: str | None) -> Assignment | None:
    """The running experiment and variant for this customer on this placement, or None (no
    experiment running, no customer id, or the customer is in none of the experiments' slices of
    the layer: outside their traffic or in the layer's holdout)."""
    if not customer_id:
        return None
    places: dict[str, float] = {}
    for experiment in running_experiments().get(placement, ()):
        weights = [(v.key, v.weight) for v in experiment.variants]
        if experiment.layer_slice is None:
            variant_key = assign(
                experiment_key=experiment.key,
                salt=experiment.salt,
                customer_id=customer_id,
                traffic_share=experiment.traffic_share,
                weights=weights,
            )
        else:
            if experiment.layer not in places:
                places[experiment.layer] = layer_unit(layer=experiment.layer, customer_id=customer_id)
            start, end = experiment.layer_slice
            variant_key = assign_in_slice(
                experiment_key=experiment.key,
                salt=experiment.salt,
                customer_id=customer_id,
                place=places[experiment.layer],
                start=start,
                end=end,
                weights=weights,
            )
        if variant_key is not None and experiment.kind == Kind.INTERLEAVING:
            return _interleaved(experiment)
        if variant_key is not None:
            variant = next(v for v in experiment.variants if v.key == variant_key)
            return Assignment(
                experiment_id=experiment.id,
                experiment_key=experiment.key,
                variant_id=variant.id,
                variant_key=variant.key,
                strategy=variant.strategy,
            )
    return None


def _interleaved(experiment: RunningExperiment) -> Assignment:
    """Every customer in an interleaving experiment gets both variants, control first (variants
    are loaded control first; launch checks there are exactly two)."""
    first, second = experiment.variants
    return Assignment(
        experiment_id=experiment.id,
        experiment_key=experiment.key,
        variant_id=None,
        variant_key=None,
        strategy=first.strategy,
        teams=(Team(first.key, first.strategy), Team(second.key, second.strategy)),
    )


# --- exposure log --------------------------------------------------------------------------------


def exposure_log(
    *,
    assignment: Assignment,
    recommendation_id: uuid.UUID,
    customer_id: str,
    placement: str,
    product_ids: Sequence[str],
    teams: Sequence[str | None] | None = None,
    served_at: dt.datetime | None = None,
) -> None:
    """Record that this list was served under `assignment` (deferred to after the response when
    called inside a request); `teams`, for an interleaved list, names each item's variant."""
    items = [{"id": product_id, "position": pos} for pos, product_id in enumerate(product_ids, start=1)]
    if teams is not None:
        for item, team in zip(items, teams, strict=True):
            item["team"] = team
    row = (
        recommendation_id,
        assignment.experiment_id,
        assignment.variant_id,
        customer_id,
        placement,
        json.dumps(items),
        served_at or timezone.now(),
    )
    write_after_response(exposures_write, row)


def exposures_write(rows: Sequence[tuple]) -> None:
    """One INSERT for all `rows`, in autocommit: no BEGIN/COMMIT round trips around it (the ORM's
    bulk_create adds them), and a replayed recommendation id is skipped, not an error."""
    table = Exposure._meta.db_table
    values = ", ".join(["(%s, %s, %s, %s, %s, %s::jsonb, %s)"] * len(rows))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (recommendation_id, experiment_id, variant_id, customer_external_id, placement,"
            f" items, created_at) VALUES {values} ON CONFLICT (recommendation_id) DO NOTHING",
            [value for row in rows for value in row],
        )


def exposure_clicks_count(*, recommendation_ids: Sequence[uuid.UUID], **kwargs: object) -> None:
    """`catalog.signals.clicks_stored` receiver: count new clicks per experiment variant (one query)."""
    if not ENABLED or not recommendation_ids:
        return
    clicks_by_list = {}
    for recommendation_id in recommendation_ids:
        clicks_by_list[recommendation_id] = clicks_by_list.get(recommendation_id, 0) + 1
    served = Exposure.objects.filter(recommendation_id__in=list(clicks_by_list)).values_list(
        "recommendation_id", "experiment__key", "variant__key"
    )
    for recommendation_id, experiment_key, variant_key in served:
        clicks_count(
            experiment=experiment_key, variant=variant_key or INTERLEAVED, clicks=clicks_by_list[recommendation_id]
        )
