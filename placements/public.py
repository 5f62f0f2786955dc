"""What other apps use of placements."""

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
    "ROUTES",
    "Placement",
    "Strategy",
    "StrategyError",
    "strategy_check",
    "strategy_check_register",
    "strategy_parse",
]
