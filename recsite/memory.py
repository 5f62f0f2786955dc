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

    @property
    def estimate_bytes(self) -> int:
        return int(self.fixed_bytes + self.per_unit_bytes * self.units)

    @property
    def planned_bytes(self) -> int:
        """The estimate at the share kept (the budget, or less)."""
        return int(self.fixed_bytes + self.per_unit_bytes * self.units * self.share)

    @property
    def sampled(self) -> bool:
        return self.share < 1.0

    def describe(self) -> str:
        head = (
            f"{self.job}: estimated peak {self.estimate_bytes / MB:,.0f} MB for {self.units:,} {self.unit} "
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
) -> MemoryPlan:
    """The share of `units` that keeps `fixed + share × units × per_unit` within the budget (1.0
    when all fit). MemoryBudgetError, naming `setting`, when the fixed part alone does not fit."""
    plan = MemoryPlan(
        job=job,
        budget_bytes=budget_bytes,
        fixed_bytes=fixed_bytes,
        per_unit_bytes=per_unit_bytes,
        units=units,
        unit=unit,
        share=1.0,
        seed=seed,
    )
    if plan.estimate_bytes <= budget_bytes:
        return plan
    if fixed_bytes >= budget_bytes:
        raise MemoryBudgetError(
            f"{job}: needs about {fixed_bytes / MB:,.0f} MB before any of its {unit} "
            f"(budget {budget_bytes / MB:,.0f} MB): raise {setting}"
        )
    share = (budget_bytes - fixed_bytes) / (per_unit_bytes * units)
    return MemoryPlan(**{**plan.__dict__, "share": share})


def rss_mb() -> float:
    """This process's resident memory now, in MB (Linux)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / MB


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MB (Linux reports kB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
