"""Training a LambdaMART ranker on temporal lists.

A label time T splits the events: features come from events before T (the `features` module, as
of T), labels are the positive events in [T, T + window) on items the customer had not touched
before T — what the feed would have had to find. Candidates come from the same recall routes and
fusion as serving, trained on events before T (`evaluation.strategies`), cut to the
`RANK_CANDIDATES` the rank stage sees. Lists without a positive teach nothing and are dropped.

`training_data_build` and `ranker_fit` are pure (the offline evaluation trains in memory with
them); `ranker_train` loads the database, fits and stores a new `RankerModel` version.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from recommendations.contracts import Strategy
from recommendations.evaluation.strategies import TrainedRoutes, route_candidates, route_scores, routes_train
from recommendations.ranking.features import (
    FEATURE_SETS,
    CandidateLists,
    Catalog,
    CustomerState,
    ItemState,
    candidate_lists_build,
    customer_state_build,
    features_compute,
    item_state_build,
    reference_time_of,
)
from recommendations.recall.events import SECONDS_PER_DAY, Interactions, interaction_matrix
from recommendations.recall.fused import FusedItem, fuse

logger = logging.getLogger(__name__)

# The rank stage reorders this many of the fused candidates.
RANK_CANDIDATES = 200
LABEL_WINDOW_DAYS = 28.0
# Label windows stacked back to back (each its own snapshot): more lists from the same history.
LABEL_WINDOWS = 3
# Lists sampled for training, to bound the time a run takes (customers chosen at random, seeded).
MAX_TRAINING_CUSTOMERS = 2500
VALIDATION_FRACTION = 0.2
SEED = 42
# Users scored together when building candidates (a dense block of USER_BLOCK × catalog scores).
USER_BLOCK = 256
NUM_BOOST_ROUND = 400
EARLY_STOPPING_ROUNDS = 30
PARAMS: dict = {
    "objective": "lambdarank",
    "metric": "ndcg",
    "ndcg_eval_at": [10],
    # Only the top of the list is shown; gradients below 20 matter little.
    "lambdarank_truncation_level": 20,
    "learning_rate": 0.05,
    "num_leaves": 31,
    "min_data_in_leaf": 50,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "seed": SEED,
    "deterministic": True,
    "verbose": -1,
    # Tiny per-feature histograms are enough here and keep a run fast on a few cores.
    "max_bin": 63,
}


def label_time_before(*, clock: float, label_window_days: float = LABEL_WINDOW_DAYS) -> float:
    """The label time whose window ends just after `clock`, the latest event: labels are the
    last `label_window_days` of the data, that latest event included."""
    return clock + 1.0 - label_window_days * SECONDS_PER_DAY


class RankerTrainingError(ValueError):
    """The data cannot train a ranker (no history before the label time, too few labelled lists)."""


@dataclass(frozen=True)
class TrainingWindow:
    """One label window's candidate lists with labels, and the states their features come from."""

    lists: CandidateLists
    labels: np.ndarray
    items: ItemState
    customers: CustomerState


@dataclass(frozen=True)
class TrainingData:
    """The lists of every label window, most recent window first."""

    parts: tuple[TrainingWindow, ...]
    catalog: Catalog
    windows: dict

    def features(self, *, feature_set: str) -> np.ndarray:
        return np.vstack(
            [
                features_compute(
                    lists=part.lists,
                    items=part.items,
                    customers=part.customers,
                    catalog=self.catalog,
                    feature_set=feature_set,
                )
                for part in self.parts
            ]
        )

    @property
    def labels(self) -> np.ndarray:
        return np.concatenate([part.labels for part in self.parts])

    @property
    def group_sizes(self) -> np.ndarray:
        return np.concatenate([part.lists.group_sizes for part in self.parts])

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


def fused_candidates(
    *,
    trained: TrainedRoutes,
    users: np.ndarray,
    seen: sp.csr_matrix,
    weights: Mapping[str, float],
    n: int = RANK_CANDIDATES,
    per_route: int = Strategy().candidates_per_route,
) -> list[list[FusedItem]]:
    """Each user's fused candidate list (item indices as `product_pk`), top `n`, seen items left out."""
    routes = [route for route in ("itemcf", "semantic", "popularity") if weights.get(route, 0.0) > 0]
    lists: list[list[FusedItem]] = []
    for start in range(0, len(users), USER_BLOCK):
        block = users[start : start + USER_BLOCK]
        scores = {route: route_scores(trained=trained, route=route, users=block) for route in routes}
        rows, cols = seen[block].nonzero()
        for matrix in scores.values():
            matrix[rows, cols] = -np.inf
        for row in range(len(block)):
            candidates = {
                route: route_candidates(route=route, scores=scores[route][row], n=per_route) for route in routes
            }
            lists.append(fuse(candidates=candidates, weights=weights)[:n])
    return lists


def training_data_build(
    *,
    interactions: Interactions,
    catalog: Catalog,
    label_time: float,
    label_window_days: float = LABEL_WINDOW_DAYS,
    label_windows: int = LABEL_WINDOWS,
    weights: Mapping[str, float] | None = None,
    max_customers: int = MAX_TRAINING_CUSTOMERS,
    seed: int = SEED,
) -> TrainingData:
    """Lists for customers with a new positive item in [label_time, label_time + window), and in
    each of the `label_windows - 1` windows of the same length before it.

    Each window is its own snapshot: only events before its label time reach its routes and its
    features. `interactions` may hold later events (they are labels, or ignored).
    """
    weights = dict(Strategy().routes if weights is None else weights)
    parts, summaries = [], []
    for back in range(label_windows):
        window_start = label_time - back * label_window_days * SECONDS_PER_DAY
        built = _window_build(
            interactions=interactions,
            catalog=catalog,
            label_time=window_start,
            label_end=window_start + label_window_days * SECONDS_PER_DAY,
            weights=weights,
            max_customers=max_customers,
            seed=seed + back,
        )
        if built is None:
            if back == 0:
                raise RankerTrainingError("no events before the label time")
            break
        part, summary = built
        if len(part.lists.group_sizes):
            parts.append(part)
            summaries.append(summary)
    if not parts:
        raise RankerTrainingError("no customer has a new positive event in the label windows")
    return TrainingData(
        parts=tuple(parts),
        catalog=catalog,
        windows={
            "label_time": label_time,
            "label_window_days": label_window_days,
            "label_windows": len(parts),
            **{key: sum(summary[key] for summary in summaries) for key in summaries[0]},
        },
    )


def _window_build(
    *,
    interactions: Interactions,
    catalog: Catalog,
    label_time: float,
    label_end: float,
    weights: Mapping[str, float],
    max_customers: int,
    seed: int,
) -> tuple[TrainingWindow, dict] | None:
    """One label window's lists (only those holding a positive), or None with no events before it."""
    before = interactions.subset(interactions.timestamps < label_time)
    if not len(before.users):
        return None
    in_window = (interactions.timestamps >= label_time) & (interactions.timestamps < label_end) & interactions.positive
    seen = interaction_matrix(interactions=before)
    has_history = np.diff(seen.indptr) > 0
    label_users, label_items = interactions.users[in_window], interactions.items[in_window]
    new = has_history[label_users] & (np.asarray(seen[label_users, label_items]).ravel() == 0)
    label_users, label_items = label_users[new], label_items[new]
    users = np.unique(label_users)
    if len(users) > max_customers:
        users = np.sort(np.random.default_rng(seed).choice(users, size=max_customers, replace=False))

    trained = routes_train(train=before, embeddings=catalog.embeddings, with_als=False)
    fused = fused_candidates(trained=trained, users=users, seen=seen, weights=weights)
    lists = candidate_lists_build(users=users.tolist(), fused_lists=fused)
    positives = sp.csr_matrix(
        (np.ones(len(label_users)), (label_users, label_items)), shape=(interactions.n_users, interactions.n_items)
    )
    labels = (np.asarray(positives[lists.users, lists.items]).ravel() > 0).astype(np.float64)
    lists, labels = _with_positives(lists=lists, labels=labels)
    reference_time = reference_time_of(events=before)
    part = TrainingWindow(
        lists=lists,
        labels=labels,
        items=item_state_build(events=before, reference_time=reference_time),
        customers=customer_state_build(events=before, catalog=catalog, reference_time=reference_time),
    )
    return part, {
        "customers_with_labels": int(len(np.unique(label_users))),
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
    """LambdaMART on `data`, early-stopped on NDCG@10 of a held-out share of the customers.

    A device other than cpu that LightGBM cannot use (no GPU build, no GPU) falls back to cpu.
    """
    import lightgbm as lgb

    started = time.perf_counter()
    names = FEATURE_SETS[feature_set]
    features = data.features(feature_set=feature_set)
    group_sizes, labels = data.group_sizes, data.labels
    groups = np.repeat(np.arange(len(group_sizes)), group_sizes)
    # Validation holds out whole customers (all their lists, in every window).
    customers = np.unique(data.list_users)
    if len(customers) < 2:
        raise RankerTrainingError(f"{len(customers)} customer(s) with a positive: too few to train and validate")
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
        params = PARAMS | {"device_type": attempt, "seed": seed}
        try:
            train_set = lgb.Dataset(
                sets["train"][0], label=sets["train"][1], group=sets["train"][2], feature_name=list(names)
            )
            valid_set = lgb.Dataset(
                sets["valid"][0], label=sets["valid"][1], group=sets["valid"][2], reference=train_set
            )
            booster = lgb.train(
                params,
                train_set,
                num_boost_round=NUM_BOOST_ROUND,
                valid_sets=[valid_set],
                valid_names=["validation"],
                callbacks=[lgb.early_stopping(EARLY_STOPPING_ROUNDS, verbose=False)],
            )
            break
        except lgb.basic.LightGBMError:
            if attempt == "cpu":
                raise
            logger.warning("LightGBM cannot train on %s here; training on cpu", attempt)
    gains = booster.feature_importance(importance_type="gain")
    importance = {name: round(float(g), 3) for name, g in sorted(zip(names, gains, strict=True), key=lambda kv: -kv[1])}
    best = booster.best_score.get("validation", {})
    return FittedRanker(
        model=booster.model_to_string(num_iteration=booster.best_iteration),
        feature_set=feature_set,
        feature_names=names,
        params=params | {"num_boost_round": NUM_BOOST_ROUND, "early_stopping_rounds": EARLY_STOPPING_ROUNDS},
        validation_metrics={
            "ndcg@10": float(best.get("ndcg@10", 0.0)),
            "best_iteration": int(booster.best_iteration),
            "validation_lists": int(validation.sum()),
            "training_lists": int((~validation).sum()),
        },
        feature_importance=importance,
        training_seconds=time.perf_counter() - started,
        device=attempt,
    )


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
    import shutil

    from django.conf import settings

    device = settings.RANKER_DEVICE
    if device == "auto":
        return "gpu" if shutil.which("nvidia-smi") else "cpu"
    return device


def ranker_train(*, feature_set: str, as_of: float | None = None, name: str | None = None):
    """Train on the stored events before `as_of` (default: all) and store a new version of
    ranker `name` (default: the feature set's name), inactive. Returns the `RankerModel`."""
    import datetime as dt

    from django.db import transaction
    from django.db.models import Max

    from recommendations.models import RankerModel
    from recommendations.ranking.features import catalog_load
    from recommendations.recall.events import interactions_load

    if feature_set not in FEATURE_SETS:
        raise ValueError(f"unknown feature set {feature_set!r}; one of {', '.join(FEATURE_SETS)}")
    started = time.perf_counter()
    until = None if as_of is None else dt.datetime.fromtimestamp(as_of, tz=dt.UTC)
    interactions, _ = interactions_load(until=until)
    if not len(interactions.users):
        raise RankerTrainingError("there are no events to train on")
    reference_time = reference_time_of(events=interactions)
    label_time = label_time_before(clock=reference_time)
    data = training_data_build(interactions=interactions, catalog=catalog_load(), label_time=label_time)
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
            params=fitted.params,
            data_windows=data.windows
            | {
                "as_of": until.isoformat() if until else None,
                "data_clock": _iso(reference_time),
                "label_from": _iso(label_time),
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


def ranker_activate(*, ranker_id: int):
    """Make ranker version `ranker_id` the active one of its name (the previous one stops)."""
    from django.db import transaction

    from recommendations.models import RankerModel

    with transaction.atomic():
        ranker = RankerModel.objects.select_for_update().get(pk=ranker_id)
        RankerModel.objects.filter(name=ranker.name, is_active=True).exclude(pk=ranker.pk).update(is_active=False)
        if not ranker.is_active:
            ranker.is_active = True
            ranker.save(update_fields=["is_active"])
    return ranker


def _iso(seconds: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC).isoformat()
