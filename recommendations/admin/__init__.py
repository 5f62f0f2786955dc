"""The recommendation back office in the Django admin. Django imports this package only, so it
imports every page's module: the jobs that run its expensive actions on workers, the engine's
stored results, the offline gate's actions, the merchandising rules with the preview, the prompt
templates, the reason model's adapters, shadow strategies, and the bad-case queue (which lives with the bad cases)."""

from recommendations.admin import adapters, engine, gate, jobs, reasons, rules, shadow
from recommendations.badcases import admin as badcases

__all__ = ["adapters", "badcases", "engine", "gate", "jobs", "reasons", "rules", "shadow"]
