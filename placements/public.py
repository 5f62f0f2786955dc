"""What other apps use of placements."""

from placements.defaults import (
    RolloutError,
    default_strategies_forget,
    default_strategy,
    default_strategy_rollback,
    default_strategy_rolling,
    default_strategy_save,
    rollback_target,
    rollout_share_set,
)
from placements.models import DefaultStrategy
from placements.placement import Placement
from placements.strategy import (
    ROUTES,
    SEARCH_ALGORITHMS,
    SEARCH_HYBRID,
    SEARCH_KEYWORD,
    SEARCH_SEMANTIC,
    Strategy,
    StrategyError,
    built_in_strategy,
    strategy_check,
    strategy_check_register,
    strategy_json,
    strategy_parse,
)

__all__ = [
    "SEARCH_ALGORITHMS",
    "SEARCH_HYBRID",
    "SEARCH_KEYWORD",
    "SEARCH_SEMANTIC",
    "built_in_strategy",
    "RolloutError",
    "rollback_target",
    "rollout_share_set",
    "DefaultStrategy",
    "default_strategies_forget",
    "default_strategy",
    "default_strategy_rolling",
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
