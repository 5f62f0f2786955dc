"""Distribution shift between a reference sample and a current one: PSI and Kolmogorov–Smirnov.

Pure functions (numpy/scipy only), unit-tested against hand-computed values.

PSI (population stability index, Siddiqi 2006) bins both samples by the reference's deciles and
sums (c − r)·ln(c / r) over bins; the usual reading is < 0.1 stable, 0.1–0.2 moderate,
> 0.2 a significant shift. KS is the largest gap between the two empirical CDFs, with its
two-sample p-value (which, at thousands of samples, flags even harmless shifts — hence PSI
decides the alert).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import ks_2samp

PSI_BINS = 10
# A bin that one sample leaves empty would make ln(c / r) infinite.
PSI_FLOOR = 1e-4


@dataclass(frozen=True)
class DriftScore:
    psi: float
    ks_statistic: float
    ks_p_value: float
    n_reference: int
    n_current: int


def psi_score(*, reference: np.ndarray, current: np.ndarray, bins: int = PSI_BINS) -> float:
    """PSI of `current` against `reference` over the reference's quantile bins."""
    reference = np.asarray(reference, dtype=np.float64)
    current = np.asarray(current, dtype=np.float64)
    if reference.size == 0 or current.size == 0:
        raise ValueError("PSI needs a non-empty reference and current sample")
    inner_edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1]))
    ref_share = np.bincount(np.searchsorted(inner_edges, reference, side="right"), minlength=len(inner_edges) + 1)
    cur_share = np.bincount(np.searchsorted(inner_edges, current, side="right"), minlength=len(inner_edges) + 1)
    r = np.maximum(ref_share / reference.size, PSI_FLOOR)
    c = np.maximum(cur_share / current.size, PSI_FLOOR)
    return float(np.sum((c - r) * np.log(c / r)))


def drift_score(*, reference: np.ndarray, current: np.ndarray) -> DriftScore:
    ks = ks_2samp(reference, current)
    return DriftScore(
        psi=psi_score(reference=reference, current=current),
        ks_statistic=float(ks.statistic),
        ks_p_value=float(ks.pvalue),
        n_reference=int(np.size(reference)),
        n_current=int(np.size(current)),
    )


def cosine_distance(a: np.ndarray, b: np.ndarray) -> float:
    """1 − cos(a, b) (0 for the same direction, 1 for orthogonal)."""
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    return 1.0 - float(np.dot(a, b)) / norm if norm > 0 else 1.0
