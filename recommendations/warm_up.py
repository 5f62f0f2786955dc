"""Loading what requests need before a web worker takes its first one.

Models load lazily, once per process: without this the first search in each gunicorn worker
waits for the embedding model (seconds) and the first ranked feed for the ranker and its item
snapshot. gunicorn calls `serving_warm_up` in every worker before it accepts connections
(`post_worker_init` in deploy/gunicorn.conf.py).
"""

from __future__ import annotations

import http.client
import logging
import time
from pathlib import Path

from django.db import connections

from recommendations.embeddings.model import encode_texts
from recommendations.models import RankerModel
from recommendations.ranking.stage import active_ranker, snapshot_current
from recommendations.recall.spelling import vocabulary_current

logger = logging.getLogger(__name__)
# Each worker logs one line holding this when it is warm (through gunicorn's own logger, whatever
# LOG_LEVEL says): whoever started gunicorn can wait for all of them.
LOG_PREFIX = "warm-up:"


def warm_workers(log_text: str) -> int:
    """How many workers have logged their warm-up in a gunicorn log."""
    return sum(1 for line in log_text.splitlines() if LOG_PREFIX in line)


def gunicorn_ready(*, port: int, log: Path, workers: int) -> bool:
    """Whether the gunicorn on `port` answers /healthz and all its `workers` are warm (per the
    `log` it writes): what anyone who starts one waits for before sending traffic."""
    try:
        probe = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        probe.request("GET", "/healthz")
        healthy = probe.getresponse().status == 200
    except OSError:
        return False
    return healthy and warm_workers(log.read_text(errors="replace")) >= workers


def serving_warm_up() -> dict[str, float]:
    """Load the embedding model (its ONNX session on CPU), the search vocabulary (a second at 100k
    products, not paid by a shopper's first search) and every active ranker with the item
    snapshot; returns the seconds each took. A part that fails is logged and skipped: requests
    have a fallback for each (keyword search, the fused order), and the database may be down."""
    seconds: dict[str, float] = {}
    try:
        started = time.perf_counter()
        encode_texts(["warm up"])
        seconds["embedding_model"] = time.perf_counter() - started
    except Exception:
        # Not worded like the warm line (`LOG_PREFIX`): a failure must not count as a warm worker.
        logger.warning("the embedding model did not load during warm-up; it is tried again on use", exc_info=True)
    try:
        started = time.perf_counter()
        vocabulary_current()
        seconds["search_vocabulary"] = time.perf_counter() - started
    except Exception:
        logger.warning("the search vocabulary did not load during warm-up; it is tried again on use", exc_info=True)
    try:
        started = time.perf_counter()
        names = sorted(set(RankerModel.objects.filter(is_active=True).values_list("name", flat=True)))
        for name in names:
            active_ranker(name=name)
        if names:
            snapshot_current()
            seconds["rankers"] = time.perf_counter() - started
    except Exception:
        logger.warning("the rankers did not load during warm-up; they are tried again on use", exc_info=True)
    finally:
        # This thread serves no requests: its connection would only sit idle.
        connections.close_all()
    return seconds


def warm_up_line(seconds: dict[str, float]) -> str:
    """The line a worker logs once warm (see `warm_workers`)."""
    return f"{LOG_PREFIX} " + (", ".join(f"{part} {s:.1f} s" for part, s in seconds.items()) or "nothing loaded")
