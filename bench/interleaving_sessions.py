"""Sessions to a decision: interleaving against an A/B test, for the same true effect (issue #19, point 3).

A simulated world where strategy B's own items are more attractive than A's by `lift` (the
click-probability lift of the better strategy's items). Each session: a shopper with their own
click propensity (log-normal, mean 1: shoppers differ far more than strategies do), two lists of
10 from a pool where `overlap` items are in both lists, positions examined with probability
1/log2(1 + position), and an item clicked when examined with probability propensity × attractiveness
(attractiveness: base × Gamma(2)/2 per item, × (1 + lift) for B's own items).

- A/B: each session sees A's or B's list (alternately); the unit is the session, the metric its
  clicks. Decision: the always-valid mSPRT of experiments.stats (the one the A/B results page reads).
- Interleaving: each session sees the team-draft merge (experiments.interleaving, the serving
  code's merge); a session prefers the team credited with more of its clicks. Decision: the
  always-valid Beta-mixture sign test of experiments.preference (the interleaving page's).

Both tests get the true effect as their mixture scale (the best case for each), α = 0.05, and are
read every `--look` sessions until they decide or reach `--cap`. Reported per lift: the A/B
effect that lift makes (the true relative CTR lift of B's list over A's), the sessions each
needs (median, 10th and 90th percentile over `--reps` repetitions; a repetition that does not
decide by the cap counts as the cap), the share deciding for B (the right answer), and the
fixed-horizon sessions at 80% power from the true moments (large Monte Carlo samples).

Rows: each shopper-heterogeneity σ × each lift. Usage:

    .venv/bin/python bench/interleaving_sessions.py [--reps 20] [--lifts 0.1 0.2] [--propensity-sigmas 0.5 1 2]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import percentile, print_table, write_results  # noqa: E402
from experiments.interleaving import TEAM_A, TEAM_B, team_draft  # noqa: E402
from experiments.preference import preference_always_valid_p, sign_test_sample_size  # noqa: E402
from experiments.stats import Estimate, mean_estimate_from_sums, msprt, sample_size_for_effect  # noqa: E402

K = 10
ALPHA = 0.05
EXAMINE = 1 / np.log2(np.arange(2, K + 2))


@dataclass(frozen=True)
class World:
    lift: float
    overlap: int
    base: float
    propensity_sigma: float


def _sessions(world: World, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n sessions: propensities (n,), the attractiveness of the pool's items (n, 2K − overlap) and
    each item's owner (0: shared, 1: A's own, 2: B's own)."""
    pool = 2 * K - world.overlap
    owner = np.array([0] * world.overlap + [1] * (K - world.overlap) + [2] * (K - world.overlap))
    sigma = world.propensity_sigma
    propensity = rng.lognormal(-(sigma**2) / 2, sigma, size=n)
    attractiveness = world.base * rng.gamma(2.0, 0.5, size=(n, pool))
    attractiveness[:, owner == 2] *= 1 + world.lift
    return propensity, attractiveness, owner


def _lists(world: World, rng: np.random.Generator) -> tuple[list[int], list[int]]:
    """A's and B's lists of one session: pool indices in a random order each."""
    shared = list(range(world.overlap))
    a_own = list(range(world.overlap, K))
    b_own = list(range(K, 2 * K - world.overlap))
    a, b = shared + a_own, shared + b_own
    rng.shuffle(a)
    rng.shuffle(b)
    return a, b


def _clicks(propensity: float, attractiveness: np.ndarray, shown: list[int], rng: np.random.Generator) -> np.ndarray:
    p = np.minimum(1.0, propensity * attractiveness[shown] * EXAMINE[: len(shown)])
    return rng.random(len(shown)) < p


def ab_session_clicks(world: World, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Clicks of n sessions shown A's list and n shown B's list (vectorised: a random order of
    each list per session, as `_lists` makes one)."""
    out = []
    for own in (range(world.overlap, K), range(K, 2 * K - world.overlap)):
        propensity, attractiveness, _ = _sessions(world, n, rng)
        listed = attractiveness[:, [*range(world.overlap), *own]]
        order = rng.permuted(np.tile(np.arange(K), (n, 1)), axis=1)
        shown = np.take_along_axis(listed, order, axis=1)
        p = np.minimum(1.0, propensity[:, None] * shown * EXAMINE[None, :])
        out.append((rng.random((n, K)) < p).sum(axis=1).astype(float))
    return out[0], out[1]


def interleaved_preferences(world: World, n: int, rng: np.random.Generator) -> np.ndarray:
    """+1 (prefers B), −1 (prefers A) or 0 (tie or no click) for n interleaved sessions."""
    propensity, attractiveness, _ = _sessions(world, n, rng)
    seeds = rng.integers(0, 2**63, size=n)
    prefs = np.empty(n, dtype=int)
    for i in range(n):
        a, b = _lists(world, rng)
        merged = team_draft(a=a, b=b, k=K, seed=int(seeds[i]))
        clicked = _clicks(propensity[i], attractiveness[i], [item for item, _ in merged], rng)
        credit_a = sum(1 for (_, team), c in zip(merged, clicked, strict=True) if c and team == TEAM_A)
        credit_b = sum(1 for (_, team), c in zip(merged, clicked, strict=True) if c and team == TEAM_B)
        prefs[i] = (credit_b > credit_a) - (credit_a > credit_b)
    return prefs


def ab_until_decided(world: World, tau2: float, look: int, cap: int, rng: np.random.Generator) -> tuple[int, str]:
    """Sessions (both arms together) the A/B test reads until its always-valid p ≤ α; and its call."""
    sums = np.zeros((2, 2))  # per arm: Σclicks, Σclicks²
    n = 0
    while 2 * n < cap:
        clicks_a, clicks_b = ab_session_clicks(world, look // 2, rng)
        n += look // 2
        sums += [[clicks_a.sum(), (clicks_a**2).sum()], [clicks_b.sum(), (clicks_b**2).sum()]]
        control = mean_estimate_from_sums(n=n, total=sums[0, 0], total_sq=sums[0, 1])
        treatment = mean_estimate_from_sums(n=n, total=sums[1, 0], total_sq=sums[1, 1])
        result = msprt(control=control, treatment=treatment, tau2=tau2, alpha=ALPHA)
        if result.reject:
            return 2 * n, "B" if treatment.value > control.value else "A"
    return cap, "none"


def interleaving_until_decided(
    world: World, tau: float, look: int, cap: int, rng: np.random.Generator
) -> tuple[int, str]:
    """Sessions the interleaving test reads until its always-valid p ≤ α; and its call."""
    wins_a = wins_b = n = 0
    while n < cap:
        prefs = interleaved_preferences(world, look, rng)
        n += look
        wins_b += int((prefs > 0).sum())
        wins_a += int((prefs < 0).sum())
        if preference_always_valid_p(wins_a=wins_a, wins_b=wins_b, tau=tau) <= ALPHA:
            return n, "B" if wins_b > wins_a else "A"
    return cap, "none"


def true_moments(world: World, n: int, rng: np.random.Generator) -> dict:
    """From large samples: the A/B effect and per-session variances, the interleaving preference."""
    clicks_a, clicks_b = ab_session_clicks(world, n, rng)
    prefs = interleaved_preferences(world, n, rng)
    p_b, p_a = float((prefs > 0).mean()), float((prefs < 0).mean())
    control = Estimate(value=float(clicks_a.mean()), variance=float(clicks_a.var(ddof=1) / n), n=n)
    treatment = Estimate(value=float(clicks_b.mean()), variance=float(clicks_b.var(ddof=1) / n), n=n)
    share = p_b / (p_a + p_b)
    return {
        "ctr_a": control.value,
        "ctr_b": treatment.value,
        "effect": treatment.value - control.value,
        "ab_fixed_sessions": 2
        * sample_size_for_effect(control=control, treatment=treatment, effect=treatment.value - control.value),
        "share_b": share,
        "decisive": p_a + p_b,
        "il_fixed_sessions": math.ceil(sign_test_sample_size(share=share) / (p_a + p_b)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--lifts", type=float, nargs="+", default=[0.1, 0.2])
    parser.add_argument("--overlap", type=int, default=5, help="items in both lists (of 10)")
    parser.add_argument("--base", type=float, default=0.05, help="mean attractiveness of an item")
    parser.add_argument(
        "--propensity-sigmas",
        type=float,
        nargs="+",
        default=[0.5, 1.0, 2.0],
        help="log-normal σ of shoppers' click propensity (how much shoppers differ), one row each",
    )
    parser.add_argument("--look", type=int, default=100, help="sessions between two reads of a test")
    parser.add_argument("--cap", type=int, default=400_000, help="sessions after which a test gives up")
    parser.add_argument("--moment-sessions", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=19)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    rows = []
    started = time.perf_counter()
    for sigma, lift in [(sigma, lift) for sigma in args.propensity_sigmas for lift in args.lifts]:
        world = World(lift=lift, overlap=args.overlap, base=args.base, propensity_sigma=sigma)
        moments = true_moments(world, args.moment_sessions, rng)
        ab, il = [], []
        for _ in range(args.reps):
            ab.append(ab_until_decided(world, moments["effect"] ** 2, args.look, args.cap, rng))
            il.append(interleaving_until_decided(world, abs(moments["share_b"] - 0.5), args.look, args.cap, rng))
        ab_n, il_n = sorted(n for n, _ in ab), sorted(n for n, _ in il)
        ab_median, il_median = percentile(ab_n, 50), percentile(il_n, 50)
        rows.append(
            {
                "sigma": sigma,
                "item_lift": lift,
                "ab_ctr_lift": round(moments["effect"] / moments["ctr_a"], 4),
                "share_b": round(moments["share_b"], 4),
                "ab_sessions_p50": ab_median,
                "ab_p10_p90": f"{percentile(ab_n, 10)}-{percentile(ab_n, 90)}",
                "ab_right": f"{sum(call == 'B' for _, call in ab)}/{args.reps}",
                "il_sessions_p50": il_median,
                "il_p10_p90": f"{percentile(il_n, 10)}-{percentile(il_n, 90)}",
                "il_right": f"{sum(call == 'B' for _, call in il)}/{args.reps}",
                "ratio_p50": round(ab_median / il_median, 1),
                "ab_fixed_80": moments["ab_fixed_sessions"],
                "il_fixed_80": moments["il_fixed_sessions"],
            }
        )
        print(f"sigma {sigma}, lift {lift}: done in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    print_table(rows)
    load = os.getloadavg()
    print(f"\nload average: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; {time.perf_counter() - started:.0f} s")
    path = write_results(
        "interleaving_sessions",
        rows,
        {
            "reps": args.reps,
            "overlap": args.overlap,
            "base": args.base,
            "propensity_sigmas": args.propensity_sigmas,
            "look": args.look,
            "cap": args.cap,
            "moment_sessions": args.moment_sessions,
            "seed": args.seed,
            "load_average": load,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
