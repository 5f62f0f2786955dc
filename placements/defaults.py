"""Each placement's default strategy: what serves when no experiment claims the request.

Serving reads the defaults from a per-process snapshot (at most `CACHE_SECONDS` old, as the
merchandising rules are); a change made in this process is seen at once. A placement with no
stored version serves its built-in strategy (`built_in_strategy`).

A version saved with a share below 100 rolls out: a stable hash of (placement, version, customer)
puts that share of customers on it and the newest fully rolled-out version serves the others.
Raising the share keeps everyone already on the new version there (the hash does not change);
anonymous requests stay on the fully rolled-out version until the rollout completes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max

from placements.models import DefaultStrategy, RolloutStep
from placements.placement import Placement
from placements.strategy import Strategy, StrategyError, built_in_strategy, strategy_check, strategy_parse
from recsite.snapshot import CachedSnapshot

CACHE_SECONDS = 5.0
FULL = 100


class RolloutError(ValueError):
    """A rollout change that cannot happen; the message says why."""


@dataclass(frozen=True)
class PlacementDefault:
    """What a placement serves by default: its fully rolled-out strategy and, while a newer version
    rolls out, that version's strategy and share (percent of customers)."""

    full: Strategy
    rolling: Strategy | None = None
    rolling_version: int = 0
    share: int = FULL


def default_strategy(placement: str, customer_id: str | None = None) -> Strategy:
    """The strategy `placement` serves this customer by default now."""
    current = _defaults.get().get(placement)
    if current is None:
        return built_in_strategy(placement)
    if (
        current.rolling is not None
        and customer_id
        and rollout_bucket(placement=placement, version=current.rolling_version, customer_id=customer_id)
        < current.share
    ):
        return current.rolling
    return current.full


def default_strategy_rolling(placement: str) -> Strategy | None:
    """The version rolling out on `placement` now, if any."""
    current = _defaults.get().get(placement)
    return None if current is None else current.rolling


def rollout_bucket(*, placement: str, version: int, customer_id: str) -> float:
    """A customer's place in [0, 100) for one version's rollout: stable, uniform, independent of
    experiment assignment (its own salt)."""
    digest = hashlib.sha256(f"rollout:{placement}:v{version}:{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * 100


def default_strategies_forget() -> None:
    _defaults.forget()


def default_strategy_name(*, placement: str, version: int) -> str:
    return f"{placement}@v{version}"


def default_strategy_save(
    *, placement: str, config: Any, note: str = "", user: Any = None, share: int = FULL
) -> DefaultStrategy:
    """Store `config` as `placement`'s next default version, serving `share` percent of customers
    (100: everyone at once). Raises StrategyError (naming the key) for a config that cannot serve,
    RolloutError for a share outside 0–100, ValueError for an unknown placement."""
    if placement not in Placement.values:
        raise ValueError(f"unknown placement {placement!r}; placements: {', '.join(Placement.values)}")
    _share_check(share)
    strategy_check(strategy_parse(config))
    author = user if getattr(user, "pk", None) else None
    try:
        with transaction.atomic():
            # Locks the placement's history: two saves at once get consecutive versions.
            versions = DefaultStrategy.objects.select_for_update().filter(placement=placement)
            latest = versions.aggregate(latest=Max("version"))["latest"] or 0
            saved = DefaultStrategy.objects.create(
                placement=placement, version=latest + 1, config=dict(config), note=note, share=share, created_by=author
            )
            RolloutStep.objects.create(version=saved, share=share, created_by=author)
    except IntegrityError as exc:
        # The first version of a placement saved twice at once: nothing to lock yet.
        raise StrategyError("another change to this placement was saved at the same moment; try again") from exc
    default_strategies_forget()
    return saved


def rollout_share_set(*, placement: str, share: int, user: Any = None) -> DefaultStrategy:
    """Move the rollout of `placement`'s newest version to `share` percent (100 completes it)."""
    _share_check(share)
    with transaction.atomic():
        latest = DefaultStrategy.objects.select_for_update().filter(placement=placement).order_by("-version").first()
        if latest is None or latest.share == FULL:
            raise RolloutError(f"{placement} has no rollout in progress")
        latest.share = share
        latest.save(update_fields=["share"])
        RolloutStep.objects.create(version=latest, share=share, created_by=user if getattr(user, "pk", None) else None)
    default_strategies_forget()
    return latest


def default_strategy_rollback(*, placement: str, to_version: int, user: Any = None) -> DefaultStrategy:
    """A new version carrying version `to_version`'s strategy, for everyone at once (it also ends a
    rollout in progress: the rolling version stops serving)."""
    old = DefaultStrategy.objects.filter(placement=placement, version=to_version).first()
    if old is None:
        raise ValueError(f"{placement} has no version {to_version}")
    return default_strategy_save(placement=placement, config=old.config, note=f"rollback to v{to_version}", user=user)


def rollback_target(*, placement: str) -> DefaultStrategy | None:
    """The version a one-click rollback returns to: the newest fully rolled-out version before the
    newest version (while a rollout runs, the one everyone else is served)."""
    versions = DefaultStrategy.objects.filter(placement=placement).order_by("-version")
    latest = versions.first()
    if latest is None:
        return None
    return versions.filter(version__lt=latest.version, share=FULL).first()


def default_strategies_serving() -> Mapping[str, DefaultStrategy]:
    """Placement → its newest version row, for the admin."""
    return {
        row.placement: row for row in DefaultStrategy.objects.order_by("placement", "-version").distinct("placement")
    }


def _share_check(share: object) -> None:
    if isinstance(share, bool) or not isinstance(share, int) or not 0 <= share <= FULL:
        raise RolloutError(f"the rollout share must be a whole percent from 0 to 100, got {share!r}")


def _parsed(row: DefaultStrategy) -> Strategy | None:
    try:
        return strategy_parse(row.config, name=default_strategy_name(placement=row.placement, version=row.version))
    except StrategyError:
        # Saved configs are checked; one broken since (edited in the database) must not take the
        # placement down: the version below it (or the built-in strategy) serves instead.
        return None


def _defaults_load() -> dict[str, PlacementDefault]:
    defaults: dict[str, PlacementDefault] = {}
    for placement in Placement.values:
        rows = DefaultStrategy.objects.filter(placement=placement).order_by("-version")
        newest = rows.first()
        if newest is None:
            continue
        # The newest fully rolled-out version that still parses (a broken one is skipped).
        full = next(filter(None, map(_parsed, rows.filter(share=FULL)[:10])), None) or built_in_strategy(placement)
        rolling = _parsed(newest) if newest.share < FULL else None
        defaults[placement] = PlacementDefault(
            full=full,
            rolling=rolling,
            rolling_version=newest.version if rolling is not None else 0,
            share=newest.share if rolling is not None else FULL,
        )
    return defaults


_defaults: CachedSnapshot[dict[str, PlacementDefault]] = CachedSnapshot(_defaults_load, max_age=lambda: CACHE_SECONDS)
