"""What other apps use of placements."""

from placements.defaults import (
    RolloutError,
    default_strategies_forget,
    default_strategy,
    default_strategy_rollback,
    default_strategy_save,
    rollback_target,
    rollout_share_set,
)
from placements.models import DefaultStrategy
from placements.placement import Placement
from placements.strategy import (
    ROUTES,
    Strategy,
    StrategyError,
    strategy_check,
    strategy_check_register,
    strategy_parse,
)

__all__ = [
    "RolloutError",
    "rollback_target",
    "rollout_share_set",
    "DefaultStrategy",
    "default_strategies_forget",
    "default_strategy",
    "default_strategy_rollback",
    "default_strategy_save",
    "ROUTES",
    "Placement",
    "Strategy",
    "StrategyError",
    "strategy_check",
    "strategy_check_register",
    "strategy_parse",
]
