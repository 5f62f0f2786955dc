"""Each placement's default strategy: what serves when no experiment claims the request.

Serving reads the defaults from a per-process snapshot (at most `CACHE_SECONDS` old, as the
merchandising rules are); a change made in this process is seen at once. A placement with no
stored version serves the built-in `Strategy()`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max

from placements.models import DefaultStrategy
from placements.placement import Placement
from placements.strategy import Strategy, StrategyError, strategy_check, strategy_parse
from recsite.snapshot import CachedSnapshot

CACHE_SECONDS = 5.0


def default_strategy(placement: str) -> Strategy:
    """The strategy `placement` serves by default now."""
    return _defaults.get().get(placement) or Strategy()


def default_strategies_forget() -> None:
    _defaults.forget()


def default_strategy_name(*, placement: str, version: int) -> str:
    return f"{placement}@v{version}"


def default_strategy_save(*, placement: str, config: Any, note: str = "", user: Any = None) -> DefaultStrategy:
    """Store `config` as `placement`'s next default version; raises StrategyError (the message
    names the key) for a config that cannot serve, ValueError for an unknown placement."""
    if placement not in Placement.values:
        raise ValueError(f"unknown placement {placement!r}; placements: {', '.join(Placement.values)}")
    strategy_check(strategy_parse(config))
    try:
        with transaction.atomic():
            # Locks the placement's history: two saves at once get consecutive versions.
            versions = DefaultStrategy.objects.select_for_update().filter(placement=placement)
            latest = versions.aggregate(latest=Max("version"))["latest"] or 0
            saved = DefaultStrategy.objects.create(
                placement=placement,
                version=latest + 1,
                config=dict(config),
                note=note,
                created_by=user if getattr(user, "pk", None) else None,
            )
    except IntegrityError as exc:
        # The first version of a placement saved twice at once: nothing to lock yet.
        raise StrategyError("another change to this placement was saved at the same moment; try again") from exc
    default_strategies_forget()
    return saved


def default_strategy_rollback(*, placement: str, to_version: int, user: Any = None) -> DefaultStrategy:
    """A new version carrying version `to_version`'s strategy."""
    old = DefaultStrategy.objects.filter(placement=placement, version=to_version).first()
    if old is None:
        raise ValueError(f"{placement} has no version {to_version}")
    return default_strategy_save(placement=placement, config=old.config, note=f"rollback to v{to_version}", user=user)


def default_strategies_serving() -> Mapping[str, DefaultStrategy]:
    """Placement → its serving (latest) version row, for the admin."""
    latest: dict[str, DefaultStrategy] = {}
    for row in DefaultStrategy.objects.order_by("placement", "-version").distinct("placement"):
        latest[row.placement] = row
    return latest


def _defaults_load() -> dict[str, Strategy]:
    defaults = {}
    for placement, row in default_strategies_serving().items():
        try:
            defaults[placement] = strategy_parse(
                row.config, name=default_strategy_name(placement=placement, version=row.version)
            )
        except StrategyError:
            # Saved configs are checked; one broken since (edited in the database) must not take
            # the placement down: it serves the built-in default instead.
            continue
    return defaults


_defaults: CachedSnapshot[dict[str, Strategy]] = CachedSnapshot(_defaults_load, max_age=lambda: CACHE_SECONDS)
