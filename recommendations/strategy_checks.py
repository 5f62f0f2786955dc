"""What a strategy names must be live before it serves: the checks placements runs for it."""

from __future__ import annotations

from placements.public import Strategy, StrategyError
from recommendations.models import PromptTemplate, RankerModel


def ranker_live_check(strategy: Strategy) -> None:
    if strategy.ranker is not None and not RankerModel.objects.filter(name=strategy.ranker, is_active=True).exists():
        raise StrategyError(
            f"no active ranker named {strategy.ranker!r}; train one and activate it first (admin: Ranker models)"
        )


def reason_template_live_check(strategy: Strategy) -> None:
    if strategy.reason_template is None:
        return
    found = PromptTemplate.objects.filter(
        name=strategy.reason_template, purpose="reason", is_active=True, active_version__published_at__isnull=False
    )
    if not found.exists():
        raise StrategyError(f"no active reason template named {strategy.reason_template!r} (admin: Prompt templates)")
