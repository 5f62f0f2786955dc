"""Training a LambdaMART ranker on lists cut from each customer's own history.

No calendar window: each customer's history is cut where one of their own visits begins (rule
`visit`: the start of the day of a positive event; rule `last`: before their last N positive
events, the offline `--holdout-last N` split). The items after the cut are the labels (new items only, what the
feed would have had to find), everything before it is the history. Candidates come from the same
recall routes and fusion as serving, trained on the events before the cuts
(`evaluation.strategies`), cut to the `RANK_CANDIDATES` the rank stage sees; features are computed
as of each customer's request time. The cut is applied again to what remains (`rounds` times), so
every customer with a few visits gives a list per round, whenever they arrived. Lists without a
positive teach nothing and are dropped.

Memory: feature rows are float32 and built round by round; when rows × features would exceed
`memory_budget`, lists are sampled (customers drawn at random, seeded) and the summary says so.

`training_data_build` and `ranker_fit` are pure (the offline evaluation trains in memory with
them); `ranker_train` loads the database, fits and stores a new `RankerModel` version.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from django.conf import settings
from django.db import transaction
from django.db.models import Max

from placements.public import Strategy
from recommendations.contracts import FusedItem, Interactions
from recommendations.evaluation.metrics import ndcg_of_lists
from recommendations.evaluation.split import Split, split_holdout_last, split_visit_cut
from recommendations.evaluation.strategies import (
    ROUTES,
    USER_BLOCK,
    TrainedRoutes,
    route_candidates,
    route_scores,
    routes_train,
    semantic_route_candidates,
    user_block,
)
from recommendations.interactions import interaction_matrix, interactions_load
from recommendations.models import RankerModel
from recommendations.ranking.budget import customer_sample, ranker_plan_logged
from recommendations.ranking.features import (
    FEATURE_SETS,
    TOPIC_FEATURES,
    CandidateLists,
    Catalog,
    CustomerState,
    EmbeddingBasis,
    ItemState,
    candidate_lists_build,
    candidate_lists_concat,
    catalog_load,
    customer_state_build,
    embedding_basis_fit,
    features_compute,
    item_state_build,
)
from recommendations.recall.fused import fuse
from recsite.memory import MemoryPlan

logger = logging.getLogger(__name__)

# The rank stage reorders this many of the fused candidates: every route's own top 100 (four
# routes), so the ranker sees what each route proposes whatever the fusion weights. Measured over
# 3 seeds against 200 (docs/ranking.md): Amazon Office 0.1286 against 0.1146 (semantic set).
RANK_CANDIDATES = 400
# Cuts per customer: the last visit, then the one before it, ... More cuts, more lists from the
# customers with long histories (Online Retail holdout-last: 7,161 lists at 4 against 3,714 at 2).
ROUNDS = 4
# A visit cut's labels: the customer's new positive items within this many days of the cut.
LABEL_HORIZON_DAYS = 28.0
# Lists sampled per round, to bound the time a run takes (customers chosen at random, seeded).
MAX_TRAINING_CUSTOMERS = 5000
# Feature rows (float32) may take at most this much memory; lists are sampled beyond it.
MEMORY_BUDGET_BYTES = 2 * 2**30
VALIDATION_FRACTION = 0.2
# Models per ranker, each validated on its own customers and summed (`ranker_fit`).
ENSEMBLE_MEMBERS = 3
SEED = 42
NUM_BOOST_ROUND = 400
EARLY_STOPPING_ROUNDS = 100
# The number of trees is where the validation NDCG, averaged over this many consecutive
# iterations, peaks: a single lucky iteration on a few hundred validation lists otherwise stops a
# model after twenty trees (measured: 0.1115 against 0.1191 test NDCG for the same model and seed).
SMOOTHING_ITERATIONS = 25
PARAMS: dict = {
    "objective": "lambdarank",
    "metric": "ndcg",
    "ndcg_eval_at": [10],
    # Only the top of the list is shown; gradients below 20 matter little.
    "lambdarank_truncation_level": 20,
    "learning_rate": 0.05,
    # Small trees, large leaves and half the features per tree: measured over 3 seeds on both
    # development sets, this held the test NDCG of both feature sets at or above 31 leaves / 50
    # rows / 0.8 (docs/ranking.md); `min_data_in_leaf` scales with the rows (`leaf_rows`).
    "num_leaves": 15,
    "feature_fraction": 0.5,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "seed": SEED,
    "deterministic": True,
    "verbose": -1,
    # Tiny per-feature histograms are enough here and keep a run fast on a few cores.
    "max_bin": 63,
}


class RankerTrainingError(ValueError):
    """The data cannot train a ranker (no history before the cuts, too few labelled lists)."""


@dataclass(frozen=True)
class TrainingCut:
    """Where each customer's history is cut.

    `visit`: at the start of one of their visits (the last in round 0, the one before it in round
    1, ...), labels = their positive items within `horizon_days` from the cut; what a request at
    the start of a visit should find. `last`: their last `n` positive events (ties in time at
    random), the offline `--holdout-last N` split.
    """

    rule: str = "visit"
    n: int = 1
    horizon_days: float = LABEL_HORIZON_DAYS

    def apply(self, interactions: Interactions, *, round_index: int, seed: int) -> Split:
        """Round 0 cuts `interactions`; later rounds are handed the history the previous round left."""
        if self.rule == "last":
            return split_holdout_last(interactions=interactions, n=self.n, tie_seed=seed)
        if self.rule == "visit":
            return split_visit_cut(interactions=interactions, back=round_index, horizon_days=self.horizon_days)
        raise ValueError(f"unknown training cut {self.rule!r}")

    @property
    def recursive(self) -> bool:
        """Whether round r + 1 cuts what round r left (`last`) or the whole history again (`visit`)."""
        return self.rule == "last"

    def describe(self) -> str:
        if self.rule == "last":
            return f"cut before each customer's last {self.n} positive event(s)"
        return f"cut at the start of each customer's visits, labels within {self.horizon_days:g} days"


@dataclass(frozen=True)
class TrainingWindow:
    """One round's candidate lists with labels, and the states their features come from."""

    lists: CandidateLists
    labels: np.ndarray
    items: ItemState
    customers: CustomerState


@dataclass(frozen=True)
class TrainingData:
    """The lists of every round, the latest cut first."""

    parts: tuple[TrainingWindow, ...]
    catalog: Catalog
    windows: dict
    basis: EmbeddingBasis | None = None

    def features(self, *, feature_set: str) -> np.ndarray:
        names = FEATURE_SETS[feature_set]
        out = np.empty((int(sum(len(part.labels) for part in self.parts)), len(names)), dtype=np.float32)
        start = 0
        for part in self.parts:
            out[start : start + len(part.labels)] = features_compute(
                lists=part.lists,
                items=part.items,
                customers=part.customers,
                catalog=self.catalog,
                names=names,
                basis=self.basis,
            )
            start += len(part.labels)
        return out

    @property
    def labels(self) -> np.ndarray:
        return np.concatenate([part.labels for part in self.parts])

    @property
    def group_sizes(self) -> np.ndarray:
        return np.concatenate([part.lists.group_sizes for part in self.parts])

    @property
    def fused_scores(self) -> np.ndarray:
        return np.concatenate([part.lists.fused_scores for part in self.parts])

    @property
    def list_users(self) -> np.ndarray:
        """The customer (dense user index) of each list."""
        return np.concatenate(
            [part.lists.users[np.cumsum(part.lists.group_sizes) - part.lists.group_sizes] for part in self.parts]
        )


@dataclass(frozen=True)
class FittedRanker:
    model: str
    feature_set: str
    feature_names: tuple[str, ...]
    params: dict
    validation_metrics: dict
    feature_importance: dict[str, float]
    training_seconds: float
    device: str
    # The topic directions its features were computed on (None when it uses none).
    basis: EmbeddingBasis | None = None


def candidate_lists(
    *,
    trained: TrainedRoutes,
    users: np.ndarray,
    seen: sp.csr_matrix,
    weights: Mapping[str, float],
    n: int = RANK_CANDIDATES,
    per_route: int = Strategy().candidates_per_route,
) -> CandidateLists:
    """Each user's fused candidates (item indices), top `n`, seen items left out, as feature rows.

    Built a block of users at a time: the fused lists (Python objects, about half a kilobyte a
    candidate) of one block only are alive at once, whatever the number of users.
    """
    routes = [route for route in ROUTES if weights.get(route, 0.0) > 0]
    # The semantic route is scored for a group of users at a time, a tile of items at a time
    # (`semantic_route_candidates`); the others as users × catalog blocks within the group.
    dense = [route for route in routes if route != "semantic"]
    parts = []
    size = user_block(n_items=trained.n_items, routes=len(dense))
    # USER_BLOCK users share the semantic route's tiles; `user_block` never exceeds it.
    for first in range(0, len(users), USER_BLOCK):
        grouped = users[first : first + USER_BLOCK]
        semantic = (
            semantic_route_candidates(trained=trained, users=grouped, seen=seen, n=per_route)
            if "semantic" in routes
            else []
        )
        for start in range(0, len(grouped), size):
            block = grouped[start : start + size]
            scores = {route: route_scores(trained=trained, route=route, users=block) for route in dense}
            rows, cols = seen[block].nonzero()
            for matrix in scores.values():
                matrix[rows, cols] = -np.inf
            fused: list[list[FusedItem]] = []
            for row in range(len(block)):
                candidates = {
                    route: semantic[start + row]
                    if route == "semantic"
                    else route_candidates(route=route, scores=scores[route][row], n=per_route)
                    for route in routes
                }
                fused.append(fuse(candidates=candidates, weights=weights)[:n])
            parts.append(candidate_lists_build(users=block.tolist(), fused_lists=fused))
    return candidate_lists_concat(parts)


def training_data_build(
    *,
    interactions: Interactions,
    catalog: Catalog,
    cut: TrainingCut = TrainingCut(),
    rounds: int = ROUNDS,
    weights: Mapping[str, float] | None = None,
    max_customers: int = MAX_TRAINING_CUSTOMERS,
    memory_budget: int = MEMORY_BUDGET_BYTES,
    candidates: int = RANK_CANDIDATES,
    seed: int = SEED,
) -> TrainingData:
    """Lists from cutting each customer's history `rounds` times by `cut` (see the module doc).

    Each round is its own snapshot: only the events before its cuts reach its routes and its
    features.
    """
    weights = dict(Strategy().routes if weights is None else weights)
    n_features = max(len(names) for names in FEATURE_SETS.values())
    # Rows each round may add: the budget shared by the rounds, `candidates` float32 rows a list.
    max_lists = max(1, memory_budget // (rounds * candidates * 4 * (n_features + 4)))
    limit = min(max_customers, max_lists)
    parts, summaries = [], []
    remaining = interactions
    for round_index in range(rounds):
        split = cut.apply(remaining, round_index=round_index, seed=seed + round_index)
        if not len(split.train.users) or not len(split.users):
            break
        built = _round_build(
            split=split,
            catalog=catalog,
            weights=weights,
            max_customers=limit,
            candidates=candidates,
            seed=seed + round_index,
        )
        if cut.recursive:
            remaining = split.train
        if built is None:
            continue
        part, summary = built
        parts.append(part)
        summaries.append(summary)
    if not parts:
        raise RankerTrainingError(
            f"no customer has both history before their cut and a new positive item after it ({cut.describe()})"
        )
    return TrainingData(
        parts=tuple(parts),
        catalog=catalog,
        basis=embedding_basis_fit(catalog=catalog),
        windows={
            "cut": cut.describe(),
            "rounds": len(parts),
            "sampled_to": limit,
            "sample_rule": f"at most {limit} customers a round, drawn at random (seed {seed})"
            + (" to stay within the memory budget" if limit < max_customers else ""),
            **{key: sum(summary[key] for summary in summaries) for key in summaries[0]},
        },
    )


def _round_build(
    *, split: Split, catalog: Catalog, weights: Mapping[str, float], max_customers: int, candidates: int, seed: int
) -> tuple[TrainingWindow, dict] | None:
    """One round's lists (only those holding a positive), or None when none holds one."""
    users = split.users
    if len(users) > max_customers:
        users = np.sort(np.random.default_rng(seed).choice(users, size=max_customers, replace=False))
    before = split.train
    seen = interaction_matrix(interactions=before)
    trained = routes_train(
        train=before, embeddings=catalog.embeddings, with_cf=weights.get("cf", 0.0) > 0, clock=split.clock
    )
    lists = candidate_lists(trained=trained, users=users, seen=seen, weights=weights, n=candidates)
    truth_of = dict(zip(split.users.tolist(), split.truths, strict=True))
    labels = np.fromiter(
        (item in truth_of[user] for user, item in zip(lists.users.tolist(), lists.items.tolist(), strict=True)),
        dtype=np.float64,
        count=len(lists.items),
    )
    lists, labels = _with_positives(lists=lists, labels=labels)
    if not len(labels):
        return None
    part = TrainingWindow(
        lists=lists,
        labels=labels,
        items=item_state_build(events=before),
        customers=customer_state_build(events=before, catalog=catalog, clock=split.clock),
    )
    return part, {
        "customers_with_labels": int(len(split.users)),
        "customers_sampled": int(len(users)),
        "lists": int(len(lists.group_sizes)),
        "rows": int(len(labels)),
        "positives": int(labels.sum()),
    }


def _with_positives(*, lists: CandidateLists, labels: np.ndarray) -> tuple[CandidateLists, np.ndarray]:
    """Only the lists holding at least one positive (LambdaMART learns nothing from the others)."""
    groups = np.repeat(np.arange(len(lists.group_sizes)), lists.group_sizes)
    keep_group = np.bincount(groups, weights=labels, minlength=len(lists.group_sizes)) > 0
    keep = keep_group[groups]
    return (
        CandidateLists(
            users=lists.users[keep],
            items=lists.items[keep],
            route_scores=lists.route_scores[keep],
            route_ranks=lists.route_ranks[keep],
            fused_scores=lists.fused_scores[keep],
            group_sizes=lists.group_sizes[keep_group],
        ),
        labels[keep],
    )


def ranker_fit(*, data: TrainingData, feature_set: str, device: str = "cpu", seed: int = SEED) -> FittedRanker:
    """LambdaMART on `data`: `ENSEMBLE_MEMBERS` models, each early-stopped on NDCG@10 of its own
    held-out share of the customers, summed into one LightGBM model.

    Each member trains on a different 80% of the customers, so every list teaches some member and
    the members' errors partly cancel (measured over 3 seeds in docs/ranking.md). The validation
    figures (and the gate's) are each member's on the customers it never saw, averaged.

    A device other than cpu that LightGBM cannot use (no GPU build, no GPU) falls back to cpu.
    """
    started = time.perf_counter()
    names = FEATURE_SETS[feature_set]
    features = data.features(feature_set=feature_set)
    customers = np.unique(data.list_users)
    if len(customers) < 2:
        raise RankerTrainingError(f"{len(customers)} customer(s) with a positive: too few to train and validate")
    members = [
        _member_fit(data=data, features=features, names=names, customers=customers, device=device, seed=seed + m)
        for m in range(ENSEMBLE_MEMBERS)
    ]
    import lightgbm as lgb  # noqa: PLC0415 - lightgbm: heavy, loaded by the training worker only

    booster = lgb.Booster(model_str=boosters_merge([member.model for member in members]))
    gains = booster.feature_importance(importance_type="gain")
    importance = {name: round(float(g), 3) for name, g in sorted(zip(names, gains, strict=True), key=lambda kv: -kv[1])}
    first = members[0]
    return FittedRanker(
        model=booster.model_to_string(),
        feature_set=feature_set,
        feature_names=names,
        params=first.params
        | {
            "num_boost_round": NUM_BOOST_ROUND,
            "early_stopping_rounds": EARLY_STOPPING_ROUNDS,
            "smoothing_iterations": SMOOTHING_ITERATIONS,
            "ensemble_members": len(members),
        },
        validation_metrics={
            "ndcg@10": float(np.mean([member.ndcg for member in members])),
            "fused_ndcg@10": float(np.mean([member.fused_ndcg for member in members])),
            "lightgbm_ndcg@10": float(np.mean([member.lightgbm_ndcg for member in members])),
            # Each member's tree count, and the merged model's.
            "best_iteration": [member.trees for member in members],
            "trees": sum(member.trees for member in members),
            "validation_lists": first.validation_lists,
            "training_lists": first.training_lists,
        },
        feature_importance=importance,
        training_seconds=time.perf_counter() - started,
        device=first.device,
        basis=data.basis if set(names) & set(TOPIC_FEATURES) else None,
    )


@dataclass(frozen=True)
class _Member:
    model: str
    params: dict
    device: str
    trees: int
    ndcg: float
    fused_ndcg: float
    lightgbm_ndcg: float
    validation_lists: int
    training_lists: int


def _member_fit(
    *, data: TrainingData, features: np.ndarray, names: tuple[str, ...], customers: np.ndarray, device: str, seed: int
) -> _Member:
    """One LambdaMART model, validated on a random `VALIDATION_FRACTION` of the customers (all their
    lists, in every round), cut to the smoothed validation peak."""
    import lightgbm as lgb  # noqa: PLC0415 - lightgbm: heavy, loaded by the training worker only

    group_sizes, labels = data.group_sizes, data.labels
    groups = np.repeat(np.arange(len(group_sizes)), group_sizes)
    n_validation = min(max(1, round(len(customers) * VALIDATION_FRACTION)), len(customers) - 1)
    held_out = np.random.default_rng(seed).permutation(customers)[:n_validation]
    validation = np.isin(data.list_users, held_out)
    row_is_validation = validation[groups]
    sets = {}
    for name, mask, group_mask in (
        ("train", ~row_is_validation, ~validation),
        ("valid", row_is_validation, validation),
    ):
        sets[name] = (features[mask], labels[mask], group_sizes[group_mask])
    tried = [device] if device == "cpu" else [device, "cpu"]
    for attempt in tried:
        params = PARAMS | {
            "device_type": attempt,
            "seed": seed,
            "min_data_in_leaf": leaf_rows(int((~row_is_validation).sum())),
        }
        try:
            train_set = lgb.Dataset(
                sets["train"][0], label=sets["train"][1], group=sets["train"][2], feature_name=list(names)
            )
            valid_set = lgb.Dataset(
                sets["valid"][0], label=sets["valid"][1], group=sets["valid"][2], reference=train_set
            )
            curve: dict = {}
            booster = lgb.train(
                params,
                train_set,
                num_boost_round=NUM_BOOST_ROUND,
                valid_sets=[valid_set],
                valid_names=["validation"],
                callbacks=[lgb.record_evaluation(curve), lgb.early_stopping(EARLY_STOPPING_ROUNDS, verbose=False)],
            )
            break
        except lgb.basic.LightGBMError:
            if attempt == "cpu":
                raise
            logger.warning("LightGBM cannot train on %s here; training on cpu", attempt)
    validation_curve = curve["validation"]["ndcg@10"]
    trees = smoothed_peak(values=validation_curve, window=SMOOTHING_ITERATIONS)
    model = booster.model_to_string(num_iteration=trees)
    valid_features, valid_labels, valid_sizes = sets["valid"]
    return _Member(
        model=model,
        params=params,
        device=attempt,
        trees=trees,
        ndcg=ndcg_of_lists(
            scores=ranker_scores(model=lgb.Booster(model_str=model), features=valid_features),
            labels=valid_labels,
            group_sizes=valid_sizes,
        ),
        # The gate's baseline: the same validation lists in their fused order.
        fused_ndcg=ndcg_of_lists(
            scores=data.fused_scores[row_is_validation], labels=valid_labels, group_sizes=valid_sizes
        ),
        lightgbm_ndcg=float(validation_curve[trees - 1]),
        validation_lists=int(validation.sum()),
        training_lists=int((~validation).sum()),
    )


def boosters_merge(models: Sequence[str]) -> str:
    """One LightGBM model string whose score is the sum of `models`' scores (same features and
    objective): their trees one after the other, renumbered, with the byte sizes LightGBM's loader
    reads. A sum ranks as the mean does."""
    head, _, tail = _model_parts(models[0])
    blocks = [block for model in models for block in _model_parts(model)[1]]
    blocks = [re.sub(r"^Tree=\d+\n", f"Tree={k}\n", block) for k, block in enumerate(blocks)]
    sizes = " ".join(str(len(block.encode())) for block in blocks)
    head = re.sub(r"^tree_sizes=.*$", f"tree_sizes={sizes}", head, flags=re.MULTILINE)
    return f"{head}\n{''.join(blocks)}{tail}"


def _model_parts(model: str) -> tuple[str, list[str], str]:
    """A LightGBM model string as (header, tree blocks, what follows the trees)."""
    head, rest = model.split("\nTree=0\n", 1)
    sizes = [int(size) for size in re.search(r"^tree_sizes=(.*)$", head, re.MULTILINE).group(1).split()]
    body = f"Tree=0\n{rest}".encode()
    blocks, position = [], 0
    for size in sizes:
        blocks.append(body[position : position + size].decode())
        position += size
    return head, blocks, body[position:].decode()


def leaf_rows(training_rows: int) -> int:
    """Rows a leaf needs: one in 4,000 training rows (200 at 800k), at least 20, at most 500."""
    return int(np.clip(round(training_rows / 4000), 20, 500))


def smoothed_peak(*, values: list[float], window: int) -> int:
    """The iteration count (1-based) where the moving average of `values` over `window`
    iterations (fewer at the ends) is highest; the earliest of equal peaks."""
    curve = np.asarray(values, dtype=np.float64)
    if not len(curve):
        return 1
    sums = np.r_[0.0, np.cumsum(curve)]
    half = window // 2
    lo = np.maximum(np.arange(len(curve)) - half, 0)
    hi = np.minimum(np.arange(len(curve)) + half + 1, len(curve))
    smoothed = (sums[hi] - sums[lo]) / (hi - lo)
    return int(np.argmax(smoothed)) + 1


def ranker_scores(*, model, features: np.ndarray) -> np.ndarray:
    """Scores of a LightGBM `Booster` for feature rows (higher ranks first)."""
    if not len(features):
        return np.zeros(0)
    return np.asarray(model.predict(features, num_threads=1), dtype=np.float64)


def ranked_lists(*, lists: CandidateLists, scores: np.ndarray) -> list[list[int]]:
    """Each list's items ordered by score, best first (ties: the fused order)."""
    out, start = [], 0
    for size in lists.group_sizes.tolist():
        block = slice(start, start + size)
        order = np.lexsort((np.arange(size), -scores[block]))
        out.append(lists.items[block][order].tolist())
        start += size
    return out


def ranker_device() -> str:
    """The LightGBM device from `settings.RANKER_DEVICE`; `auto` is gpu where an NVIDIA GPU is
    visible, cpu otherwise.

    `gpu` (OpenCL) because the PyPI wheels are built with it; `cuda` needs LightGBM built from
    source with -DUSE_CUDA=1 and is used only when asked for by name.
    """
    device = settings.RANKER_DEVICE
    if device == "auto":
        return "gpu" if shutil.which("nvidia-smi") else "cpu"
    return device


def ranker_train(
    *, feature_set: str, as_of: float | None = None, name: str | None = None, plan: MemoryPlan | None = None
):
    """Train on the stored events before `as_of` (default: all) and store a new version of
    ranker `name` (default: the feature set's name), inactive. Returns the `RankerModel`.

    `plan` (default: `ranker_plan` at RANKER_MEMORY_BUDGET_MB, logged) says which share of the
    customers to load, sampled in the database before anything is fetched; MemoryBudgetError when
    the job cannot run within the budget."""
    if feature_set not in FEATURE_SETS:
        raise ValueError(f"unknown feature set {feature_set!r}; one of {', '.join(FEATURE_SETS)}")
    started = time.perf_counter()
    until = None if as_of is None else dt.datetime.fromtimestamp(as_of, tz=dt.UTC)
    plan = plan or ranker_plan_logged(until=until)
    interactions, _ = interactions_load(until=until, customer_share=plan.share)
    if not len(interactions.users):
        raise RankerTrainingError("there are no events to train on")
    reference_time = float(interactions.timestamps.max())

    data = training_data_build(interactions=interactions, catalog=catalog_load(), memory_budget=plan.budget_bytes)
    # The events are not needed past the lists; the fit's copies of the feature rows may reuse them.
    del interactions
    fitted = ranker_fit(data=data, feature_set=feature_set, device=ranker_device())
    name = name or feature_set
    with transaction.atomic():
        latest = RankerModel.objects.select_for_update().filter(name=name).aggregate(v=Max("version"))["v"]
        return RankerModel.objects.create(
            name=name,
            version=(latest or 0) + 1,
            feature_set=feature_set,
            feature_names=list(fitted.feature_names),
            artifact=fitted.model,
            params=fitted.params | ({"embedding_basis": fitted.basis.to_json()} if fitted.basis is not None else {}),
            data_windows=data.windows
            | customer_sample(plan)
            | {
                "as_of": until.isoformat() if until else None,
                "data_clock": _iso(reference_time),
            },
            validation_metrics=fitted.validation_metrics,
            feature_importance=fitted.feature_importance,
            # Loading, candidates, features and the fit: the whole run.
            training_seconds=time.perf_counter() - started,
            device=fitted.device,
        )


def importance_top(*, importance: Mapping[str, float], n: int = 5) -> list[tuple[str, float]]:
    """The `n` features with the largest gain, best first (stored JSON keeps no key order)."""
    return sorted(importance.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


class RankerGateError(ValueError):
    """A ranker scored below the fused order it reorders, on its own held-out lists."""


def ranker_gate(*, validation_metrics: Mapping) -> tuple[bool, str]:
    """Whether a ranker may be activated: its held-out NDCG@10 is at least the fused order's on the
    same lists (same window, same customers). Returns the verdict and both numbers in words."""
    ranker, fused = validation_metrics.get("ndcg@10"), validation_metrics.get("fused_ndcg@10")
    if ranker is None or fused is None:
        return False, "no held-out comparison with the fused order is stored for this version (retrain it)"
    words = f"held-out NDCG@10 {ranker:.4f} against the fused order's {fused:.4f} on the same lists"
    return ranker >= fused, words


def ranker_activate(*, ranker_id: int, force: bool = False):
    """Make ranker version `ranker_id` the active one of its name (the previous one stops).

    Refused (`RankerGateError`) when the version does not pass `ranker_gate`, unless `force`.
    """
    with transaction.atomic():
        ranker = RankerModel.objects.select_for_update().get(pk=ranker_id)
        passed, words = ranker_gate(validation_metrics=ranker.validation_metrics)
        if not passed and not force:
            raise RankerGateError(f"{ranker} is not activated: {words}")
        RankerModel.objects.filter(name=ranker.name, is_active=True).exclude(pk=ranker.pk).update(is_active=False)
        if not ranker.is_active:
            ranker.is_active = True
            ranker.save(update_fields=["is_active"])
    return ranker


def _iso(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC).isoformat()
