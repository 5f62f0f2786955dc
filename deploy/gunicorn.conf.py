"""gunicorn settings for the web process (`make web`, the demo, and the latency benchmark)."""

import multiprocessing
import os
import shutil
from pathlib import Path

# One intra-op thread per web worker: requests run side by side, and a query embedding is too
# small to gain from more — while torch threads spinning against each other cost 10-40x (measured:
# 12 ms one thread vs 480 ms two threads per query under load on 2 cores). Set before torch loads.
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

# Web workers encode one short query at a time, on the CPU: with the bundle a worker wrote beside
# the ONNX export, they do it without torch (recommendations/embeddings/bundle.py) — a lighter,
# faster starting process. EMBEDDING_DEVICE=auto here would probe for a GPU, which imports torch.
os.environ.setdefault("EMBEDDING_DEVICE", "cpu")

# A request never waits on the database for longer than this (the API answers 503 instead).
os.environ.setdefault("DB_STATEMENT_TIMEOUT_MS", "5000")

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count()))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
timeout = 60
accesslog = os.environ.get("GUNICORN_ACCESSLOG")  # off by default: it costs per request

# Metrics from every worker process: prometheus_client writes each process's samples under this
# directory, and /metrics merges them. Set before any worker imports prometheus_client.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(Path(__file__).resolve().parent.parent / "var" / "prometheus"))


def on_starting(server) -> None:
    """Start from an empty directory: files of a previous run would add its counts to this one's."""
    directory = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True, exist_ok=True)


def post_worker_init(worker) -> None:
    """Models load before the worker accepts its first connection, not during a request."""
    from recommendations.warm_up import serving_warm_up, warm_up_line  # noqa: PLC0415 - needs Django set up (the worker's app)

    worker.log.info(warm_up_line(serving_warm_up()))


def child_exit(server, worker) -> None:
    """A worker that exits keeps its counters (they were served) but its live gauges drop out."""
    from prometheus_client import multiprocess  # noqa: PLC0415 - only after PROMETHEUS_MULTIPROC_DIR is set

    multiprocess.mark_process_dead(worker.pid)
