"""What other apps use of placements."""

from placements.defaults import (
    default_strategies_forget,
    default_strategy,
    default_strategy_rollback,
    default_strategy_save,
)
from placements.models import DefaultStrategy
from placements.placement import Placement
from placements.strategy import (
    ROUTES,
    Strategy,
    StrategyError,
    strategy_check,
    strategy_check_register,
    strategy_json,
    strategy_parse,
)

__all__ = [
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
    "strategy_json",
    "strategy_parse",
]
