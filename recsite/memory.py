"""Memory budgets of batch jobs: an estimate from the input's size before the job runs, a seeded
sample when the whole would not fit (or a refusal when even the part that does not shrink would
not), and the peak measured after."""

from __future__ import annotations

import resource
from dataclasses import dataclass

MB = 2**20


class MemoryBudgetError(Exception):
    """Even the job's fixed part (the process, the model, item × item state) exceeds the budget."""


@dataclass(frozen=True)
class MemoryPlan:
    """How a job fits its budget: its estimate at full size, and the share of `unit` it keeps."""

    job: str
    budget_bytes: int
    fixed_bytes: int
    per_unit_bytes: float
    units: int
    unit: str
    share: float
    seed: int
    # A part that grows with the units kept up to a ceiling: each unit brings at most one of
    # `distinct` things of `per_distinct_bytes` (drift: a pair its item, of the window's items), so
    # a share s holds at most min(distinct, s × units) of them. Jobs without such a part leave it 0.
    per_distinct_bytes: float = 0.0
    distinct: int = 0
    distinct_unit: str = ""

    def bytes_at(self, share: float) -> int:
        """The estimate when `share` of the units is kept."""
        kept = self.units * share
        return int(self.fixed_bytes + self.per_unit_bytes * kept + self.per_distinct_bytes * min(self.distinct, kept))

    @property
    def estimate_bytes(self) -> int:
        return self.bytes_at(1.0)

    @property
    def planned_bytes(self) -> int:
        """The estimate at the share kept (the budget, or less)."""
        return self.bytes_at(self.share)

    @property
    def sampled(self) -> bool:
        return self.share < 1.0

    def describe(self) -> str:
        counted = f"{self.units:,} {self.unit}"
        if self.distinct_unit:
            counted += f" and their {min(self.distinct, self.units):,} {self.distinct_unit}"
        head = (
            f"{self.job}: estimated peak {self.estimate_bytes / MB:,.0f} MB for {counted} "
            f"(budget {self.budget_bytes / MB:,.0f} MB)"
        )
        if not self.sampled:
            return f"{head}: runs on all of them"
        return f"{head}: sampling {self.share:.1%} of the {self.unit} (seed {self.seed})"


def memory_plan(
    *,
    job: str,
    budget_bytes: int,
    fixed_bytes: int,
    per_unit_bytes: float,
    units: int,
    unit: str,
    seed: int,
    setting: str,
    per_distinct_bytes: float = 0.0,
    distinct: int = 0,
    distinct_unit: str = "",
) -> MemoryPlan:
    """The largest share of `units` that keeps `fixed + share × units × per_unit` (+ per_distinct
    × min(distinct, share × units), when given) within the budget (1.0 when all fit).
    MemoryBudgetError, naming `setting`, when the fixed part alone does not fit."""
    plan = MemoryPlan(
        job=job,
        budget_bytes=budget_bytes,
        fixed_bytes=fixed_bytes,
        per_unit_bytes=per_unit_bytes,
        units=units,
        unit=unit,
        share=1.0,
        seed=seed,
        per_distinct_bytes=per_distinct_bytes,
        distinct=distinct,
        distinct_unit=distinct_unit,
    )
    if plan.estimate_bytes <= budget_bytes:
        return plan
    if fixed_bytes >= budget_bytes:
        raise MemoryBudgetError(
            f"{job}: needs about {fixed_bytes / MB:,.0f} MB before any of its {unit} "
            f"(budget {budget_bytes / MB:,.0f} MB): raise {setting}"
        )
    return MemoryPlan(**{**plan.__dict__, "share": _largest_share(plan)})


def _largest_share(plan: MemoryPlan) -> float:
    """The share at which the plan's bytes reach its budget (it does not fit whole; its fixed part
    does). The bytes grow linearly with the share, faster while each unit may still bring a new
    distinct thing: below the share at which all of them are in, both parts grow."""
    room = plan.budget_bytes - plan.fixed_bytes
    share = room / (plan.units * (plan.per_unit_bytes + plan.per_distinct_bytes))
    if share * plan.units <= plan.distinct:
        return share
    # Past the share that holds them all, only the per-unit part grows. It is not 0 here: with no
    # per-unit part the share above would hold fewer than the distinct ones, the whole not fitting.
    return (room - plan.per_distinct_bytes * plan.distinct) / (plan.per_unit_bytes * plan.units)


def rss_mb() -> float:
    """This process's resident memory now, in MB (Linux)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / MB


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MB (Linux reports kB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
