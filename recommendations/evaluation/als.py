"""Matrix-factorisation baseline: implicit's AlternatingLeastSquares (Hu, Koren & Volinsky 2008).

Library defaults except a fixed seed and a moderate factor count; nothing here is tuned to a data
set. `implicit` is imported lazily (only `evaluate` needs it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

FACTORS = 64
REGULARIZATION = 0.01
ITERATIONS = 15
# The confidence of an observed interaction is 1 + ALPHA × its value (log of summed weights).
ALPHA = 1.0
SEED = 42


@dataclass(frozen=True)
class AlsFactors:
    users: np.ndarray
    items: np.ndarray


def als_fit(*, matrix: sp.csr_matrix) -> AlsFactors:
    """Train ALS on a customer × item matrix; returns user and item factors (float32)."""
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    # implicit parallelises itself; a multi-threaded BLAS underneath only oversubscribes the cores.
    with threadpool_limits(limits=1, user_api="blas"):
        model = AlternatingLeastSquares(
            factors=FACTORS,
            regularization=REGULARIZATION,
            alpha=ALPHA,
            iterations=ITERATIONS,
            random_state=SEED,
        )
        model.fit(sp.csr_matrix(matrix, dtype=np.float32), show_progress=False)
    return AlsFactors(users=np.asarray(model.user_factors), items=np.asarray(model.item_factors))
