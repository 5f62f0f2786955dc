"""Every product metric recsite exports, declared in one place, and `stage_timer` to time a stage.

Dashboards (deploy/grafana) and alert rules (deploy/prometheus) read these names; a test checks
that each name they use is declared here or by django-prometheus. Wiring a new stage is one line:

    with stage_timer("rules"):
        ...

Under gunicorn (several worker processes) and Celery's prefork pool, prometheus_client runs in
multiprocess mode: each process writes its samples to files under `PROMETHEUS_MULTIPROC_DIR`,
and `/metrics` merges them (recsite.metrics_export). Info-style metrics are gauges set to 1,
because prometheus_client's `Info` has no multiprocess mode.

`RECSITE_METRICS=0` turns the product's metrics and django-prometheus off (the overhead benchmark
compares both), read once at import.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from contextlib import ContextDecorator
from types import TracebackType

from prometheus_client import Counter, Gauge, Histogram

ENABLED = os.environ.get("RECSITE_METRICS", "1").strip().lower() not in {"0", "false", "no", "off"}

if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    # prometheus_client fails on the first metric when the directory is missing: a management
    # command or beat started with the web's environment must not.
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

# The serving stages timed by `stage_timer`; `rules` is the filters (stock, exclusions, hidden
# items) and the merchandising rules, one query and one pass.
STAGES = (
    "recall.itemcf",
    "recall.semantic",
    "recall.popularity",
    "fuse",
    "rank",
    "rules",
    "reasons",
    "search.encode",
    "search.knn",
)

# Serving stages take from a fraction of a millisecond (fusion) to a few hundred (a cold encode).
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
CANDIDATE_BUCKETS = (0, 1, 5, 10, 25, 50, 100, 200, 500, 1000)
# Tasks run from milliseconds (popularity on a small shop) to an hour (a full re-embed).
TASK_BUCKETS = (0.01, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 1800, 3600)

STAGE_LATENCY = Histogram(
    "recsite_stage_latency_seconds",
    "Time spent in one stage of the serving pipeline.",
    ["stage"],
    buckets=LATENCY_BUCKETS,
)
RECALL_CANDIDATES = Histogram(
    "recsite_recall_candidates",
    "Candidates one recall route returned for one request.",
    ["route"],
    buckets=CANDIDATE_BUCKETS,
)
FALLBACKS = Counter(
    "recsite_fallbacks",
    "Requests served by a fallback: stage rank (reason missing|broken model), recall (cold_start); "
    "reasons and rerank (llm_timeout|llm_unreachable|llm_error: the model did not answer, the grounded "
    "reason or the ranker's order is served; template_error); replica (unreachable|lagging|resting: no read "
    "replica was usable, the primary served the reads).",
    ["stage", "reason"],
)
RULES_ACTIONS = Counter(
    "recsite_rules_actions",
    "Merchandising rule actions applied to served items, by rule kind (pin, boost, bury, exclude, …).",
    ["action"],
)
RECALL_AHEAD = Counter(
    "recsite_recall_ahead",
    "Home-feed requests by where their personal routes' candidates came from: hit (computed ahead, from "
    "the cache), miss (computed on the request and kept for the next).",
    ["outcome"],
)
REASON_CACHE_HITS = Counter("recsite_reason_cache_hits", "Recommendation reasons served from the cache.")
REASON_CACHE_MISSES = Counter("recsite_reason_cache_misses", "Recommendation reasons not in the cache.")
QUERY_VECTORS = Counter(
    "recsite_query_vectors",
    "Search and context queries' embeddings: remembered by the process (hit) or encoded (miss).",
    ["outcome"],
)
KEPT_ANSWERS = Counter(
    "recsite_kept_answers",
    "Searches and similar items answered from what the process kept (hit) or read from the catalog (miss).",
    ["kind", "outcome"],
)
EXPERIMENT_EXPOSURES = Counter(
    "recsite_experiment_exposures",
    "Lists served under an experiment variant.",
    ["experiment", "variant"],
)
EXPERIMENT_CLICKS = Counter(
    "recsite_experiment_clicks",
    "New click events attributed (by recommendation_id) to a list served under a variant.",
    ["experiment", "variant"],
)
DB_READS = Counter(
    "recsite_db_reads",
    "Serving requests by the database alias that answered their reads (default: the primary).",
    ["alias"],
)
REPLICA_SKIPS = Counter(
    "recsite_db_replica_skips",
    "Times a serving request passed a read replica over: unreachable (its connection failed), lagging "
    "(replay lag over DATABASE_REPLICA_MAX_LAG_S) or resting (skipped for a while after either).",
    ["replica", "reason"],
)
REPLICA_LAG = Gauge(
    "recsite_db_replica_lag_seconds",
    "A read replica's replay lag as last measured by a process (0: replayed all it received).",
    ["replica"],
    multiprocess_mode="livemax",
)
TASK_DURATION = Histogram(
    "recsite_celery_task_duration_seconds",
    "Wall time of one Celery task run, by task and final state.",
    ["task", "state"],
    buckets=TASK_BUCKETS,
)
TASK_FAILURES = Counter("recsite_celery_task_failures", "Celery task runs that raised.", ["task"])
TASK_RETRIES = Counter("recsite_celery_task_retries", "Celery task runs that asked for a retry.", ["task"])
# "livemax": a version shows 1 while any live process serves it; a dead worker's files drop out.
RANKER_ACTIVE = Gauge(
    "recsite_ranker_active_info",
    "The ranker model version a process serves (1), per ranker name.",
    ["ranker", "version"],
    multiprocess_mode="livemax",
)
EMBEDDING_MODEL = Gauge(
    "recsite_embedding_model_info",
    "The sentence-transformers model a process has loaded (1).",
    ["model", "device"],
    multiprocess_mode="livemax",
)
REASON_TEMPLATE = Gauge(
    "recsite_reason_template_info",
    "The reason prompt template version a process renders (1), per template name.",
    ["template", "version"],
    multiprocess_mode="livemax",
)

# Drift scores, placement quality, SRM p-values and queue depth are read from stored rows and the
# broker when /metrics is scraped: see recsite.metrics_export.StoredCollector (the stored gauges
# are registered by monitoring.collectors).

if ENABLED:
    # Every stage has its series from the start (zero counts), so dashboards and alerts on the
    # rules and reasons stages work before those stages serve traffic.
    for _stage in STAGES:
        STAGE_LATENCY.labels(stage=_stage)


class stage_timer(ContextDecorator):  # noqa: N801 - used like a function: `with stage_timer("rank"):`
    """Observe the wall time of a block (or of each call of a decorated function) under `stage`."""

    __slots__ = ("stage", "_started")

    def __init__(self, stage: str) -> None:
        self.stage = stage
        self._started = 0.0

    def __enter__(self) -> stage_timer:
        self._started = time.perf_counter()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if ENABLED:
            STAGE_LATENCY.labels(stage=self.stage).observe(time.perf_counter() - self._started)


def candidates_observe(*, route: str, count: int) -> None:
    if ENABLED:
        RECALL_CANDIDATES.labels(route=route).observe(count)


def fallback_count(*, stage: str, reason: str) -> None:
    if ENABLED:
        FALLBACKS.labels(stage=stage, reason=reason).inc()


def db_read_count(*, alias: str) -> None:
    if ENABLED:
        DB_READS.labels(alias=alias).inc()


def replica_skip_count(*, replica: str, reason: str) -> None:
    if ENABLED:
        REPLICA_SKIPS.labels(replica=replica, reason=reason).inc()


def replica_lag_set(*, replica: str, seconds: float) -> None:
    if ENABLED:
        REPLICA_LAG.labels(replica=replica).set(seconds)


def exposure_count(*, experiment: str, variant: str) -> None:
    if ENABLED:
        EXPERIMENT_EXPOSURES.labels(experiment=experiment, variant=variant).inc()


def clicks_count(*, experiment: str, variant: str, clicks: int) -> None:
    if ENABLED and clicks:
        EXPERIMENT_CLICKS.labels(experiment=experiment, variant=variant).inc(clicks)


def rules_actions_count(*, kinds: Iterable[str]) -> None:
    if ENABLED:
        for kind in kinds:
            RULES_ACTIONS.labels(action=kind).inc()


def recall_ahead_count(*, outcome: str) -> None:
    if ENABLED:
        RECALL_AHEAD.labels(outcome=outcome).inc()


def reason_cache_count(*, hits: int, misses: int) -> None:
    if ENABLED:
        if hits:
            REASON_CACHE_HITS.inc(hits)
        if misses:
            REASON_CACHE_MISSES.inc(misses)


def query_vector_count(*, hit: bool) -> None:
    if ENABLED:
        QUERY_VECTORS.labels(outcome="hit" if hit else "miss").inc()


def kept_answer_count(*, kind: str, hit: bool) -> None:
    if ENABLED:
        KEPT_ANSWERS.labels(kind=kind, outcome="hit" if hit else "miss").inc()


def version_info_set(*, gauge: Gauge, previous: dict[str, str] | None, current: dict[str, str]) -> None:
    """Mark `current` labels as served (1) and `previous` ones as no longer served (0)."""
    if not ENABLED:
        return
    if previous is not None and previous != current:
        gauge.labels(**previous).set(0)
    gauge.labels(**current).set(1)
