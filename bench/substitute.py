"""A faithful substitute for the real model's embeddings of generated products, for catalogs the
two cores cannot embed in a run (1M products: about 2.8 hours at the measured ~100 products/s).

A generated title is a real product's title with one word swapped for a word of another title and
an adjective in front (`bench/api_latency.py`). Its substitute vector is a fitted blend of the real
model's embeddings of its parts — a·E(source title) + b·E(adjective) + c·E(inserted word) +
d·E(removed word) — plus isotropic noise, normalised. The coefficients are least squares against
a share of generated products embedded by the real model; the noise is the scale at which the
substitutes are as dense as the real vectors (the mean similarity of each product's 10th nearest
neighbour, which is what makes an HNSW search hard or easy; without noise the blends crowd
together). `fidelity` measures both on a held-out part of that share: how close a substitute comes
to the real vector, and the density with real vectors and with substitutes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

# Where the share embedded by the real model is split: fitted on the first part, checked on the rest.
FIT_SHARE = 0.8
FIDELITY_QUERIES = 1000
NEIGHBORS = 10
# Noise scales tried per dimension (0.05 per dimension is a noise vector of norm ~1 at 384).
NOISE_GRID = np.linspace(0.0, 0.05, 26)


@dataclass(frozen=True)
class Parts:
    """What a generated title is made of."""

    source: str
    adjective: str
    inserted: str
    removed: str


@dataclass
class Substitute:
    """The fitted blend: coefficients of (source, adjective, inserted, removed word), the noise scale."""

    coefficients: np.ndarray
    noise_sigma: float
    parts_vectors: dict[str, np.ndarray] = field(repr=False)
    seed: int = 0

    def encode(self, parts: Sequence[Parts]) -> np.ndarray:
        """Unit vectors for generated products made of `parts`."""
        from recommendations.embeddings.model import unit_rows

        rng = np.random.default_rng(self.seed)
        self.seed += 1
        blend = self._blend(parts)
        return unit_rows(blend + rng.normal(0.0, self.noise_sigma, size=blend.shape).astype(np.float32))

    def _blend(self, parts: Sequence[Parts]) -> np.ndarray:
        stacked = _stack(parts, self.parts_vectors)
        return np.einsum("k,knd->nd", self.coefficients, stacked).astype(np.float32)


def part_vectors(parts: Sequence[Parts]) -> dict[str, np.ndarray]:
    """The real model's embedding of every distinct title, adjective and word the parts use."""
    from recommendations.embeddings.model import encode_texts

    texts = sorted({text for p in parts for text in (p.source, p.adjective, p.inserted, p.removed)})
    return dict(zip(texts, encode_texts(texts), strict=True))


def fit(parts: Sequence[Parts], real: np.ndarray, vectors: dict[str, np.ndarray]) -> Substitute:
    """Least squares of the parts against the real model's vectors of the same products, then the
    noise scale whose substitutes are as dense as the real vectors."""
    stacked = _stack(parts, vectors)
    design = stacked.reshape(len(stacked), -1).T.astype(np.float64)
    coefficients, *_ = np.linalg.lstsq(design, real.reshape(-1).astype(np.float64), rcond=None)
    substitute = Substitute(coefficients=coefficients.astype(np.float32), noise_sigma=0.0, parts_vectors=vectors)
    queries = np.arange(min(FIDELITY_QUERIES, len(parts)))
    target = _tenth_neighbor(real, queries)
    gaps = {}
    for sigma in NOISE_GRID:
        substitute.noise_sigma, substitute.seed = float(sigma), 0
        gaps[float(sigma)] = abs(_tenth_neighbor(substitute.encode(parts), queries) - target)
    substitute.noise_sigma, substitute.seed = min(gaps, key=gaps.get), 0
    return substitute


def fidelity(substitute: Substitute, parts: Sequence[Parts], real: np.ndarray) -> dict:
    """On products the fit did not see: cosine of substitute to real vector, and the similarity of
    each product's 10th nearest neighbour among them with real vectors and with substitutes."""
    made = substitute.encode(parts)
    cosines = np.sum(made * real, axis=1)
    queries = np.arange(min(FIDELITY_QUERIES, len(parts)))
    return {
        "held_out": len(parts),
        "cosine_mean": float(cosines.mean()),
        "cosine_p5": float(np.percentile(cosines, 5)),
        "tenth_neighbor_similarity_real": _tenth_neighbor(real, queries),
        "tenth_neighbor_similarity_substitute": _tenth_neighbor(made, queries),
    }


def fitted(parts: Sequence[Parts], real: np.ndarray, vectors: dict[str, np.ndarray]) -> tuple[Substitute, dict]:
    """Fit on the first FIT_SHARE of the real-embedded share, measure on the rest; `vectors` holds
    every part's embedding (`part_vectors` of all the products the substitute will stand in for)."""
    cut = int(len(parts) * FIT_SHARE)
    substitute = fit(parts[:cut], real[:cut], vectors)
    report = {
        "fitted_on": cut,
        "coefficients": [round(float(c), 4) for c in substitute.coefficients],
        "noise_sigma": substitute.noise_sigma,
        **fidelity(substitute, parts[cut:], real[cut:]),
    }
    return substitute, report


def _tenth_neighbor(vectors: np.ndarray, queries: np.ndarray) -> float:
    similarities = vectors[queries] @ vectors.T
    similarities[np.arange(len(queries)), queries] = -np.inf
    return float(np.mean(np.sort(similarities, axis=1)[:, -NEIGHBORS]))


def _stack(parts: Sequence[Parts], vectors: dict[str, np.ndarray]) -> np.ndarray:
    """(4, n, dim): the source, adjective, inserted and removed word's vectors of each product."""
    return np.stack(
        [
            np.stack([vectors[getattr(p, name)] for p in parts])
            for name in ("source", "adjective", "inserted", "removed")
        ]
    )
