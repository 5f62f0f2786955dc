"""Metrics under gunicorn with two worker processes: each worker counts its own requests, and one
scrape of /metrics (answered by either worker) adds them all up."""

from __future__ import annotations

import http.client
import json
import os
import socket
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from catalog.models import ItemPopularity
from tests.factories import ProductFactory, make_api_key
from tests.processes import database_url_for, gunicorn_server

PROJECT_ROOT = Path(settings.BASE_DIR)
GUNICORN = Path(sys.executable).with_name("gunicorn")
REQUESTS = 40
FEED_VIEW = "recommendations"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port: int, path: str, headers: dict | None = None) -> tuple[int, bytes]:
    # A new connection per request, so the kernel hands requests to either worker.
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", path, headers=headers or {})
    response = conn.getresponse()
    return response.status, response.read()


def stale_counter(directory: Path) -> None:
    """A counter file a previous run left behind: 1000 feed requests that this run never served."""
    values = MmapedDict(str(directory / "counter_999999.db"))
    key = mmap_key(
        "django_http_requests_total_by_view_transport_method",
        "django_http_requests_total_by_view_transport_method_total",
        ["view", "transport", "method"],
        [FEED_VIEW, "http", "GET"],
        "stale",
    )
    values.write_value(key, 1000.0, 0.0)
    values.close()


def per_process_feed_requests(directory: Path) -> dict[str, float]:
    """Feed requests counted by each process, from its own counter file."""
    counts = {}
    for path in sorted(directory.glob("counter_*.db")):
        for metric in MultiProcessCollector.merge([str(path)], accumulate=False):
            for s in metric.samples:
                if (
                    s.name == "django_http_requests_total_by_view_transport_method_total"
                    and s.labels["view"] == FEED_VIEW
                ):
                    counts[path.stem] = counts.get(path.stem, 0.0) + s.value
    return counts


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_two_gunicorn_workers_add_up_in_one_scrape(tmp_path):
    # given committed data, and a metrics directory holding a previous run's counts
    products = [ProductFactory(external_id=f"g{i}") for i in range(3)]
    ItemPopularity.objects.bulk_create(
        ItemPopularity(product=p, score=float(i), computed_at=timezone.now()) for i, p in enumerate(products)
    )
    api_key = make_api_key()
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    stale_counter(metrics_dir)
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for(connection.settings_dict),
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "GUNICORN_WORKERS": "2",
        # One request at a time per worker: concurrent clients must be spread over both.
        "GUNICORN_THREADS": "1",
    }
    log = tmp_path / "gunicorn.log"
    with gunicorn_server(env=env, port=port, log=log):
        # when 40 feed requests arrive from 8 clients at once
        headers = {"Authorization": f"Api-Key {api_key}"}
        with ThreadPoolExecutor(8) as pool:
            statuses = list(
                pool.map(
                    lambda i: get(port, f"/api/v1/recommendations/?customer=G{i}&k=2", headers)[0], range(REQUESTS)
                )
            )
        status, body = get(port, "/metrics")
        per_process = per_process_feed_requests(metrics_dir)

    # then the scrape counts exactly this run's 40 (the stale file was cleared at start) ...
    assert statuses == [200] * REQUESTS
    assert status == 200, body[:2000]
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    feed_requests = [
        s.value
        for s in families["django_http_requests_total_by_view_transport_method"].samples
        if s.name.endswith("_total") and s.labels["view"] == FEED_VIEW
    ]
    fused = [
        s.value
        for s in families["recsite_stage_latency_seconds"].samples
        if s.name.endswith("_count") and s.labels["stage"] == "fuse"
    ]
    assert feed_requests == [REQUESTS]
    assert fused == [REQUESTS]
    # ... which both workers served, each counting in its own file
    assert "counter_999999" not in per_process
    assert len([n for n in per_process.values() if n > 0]) == 2, json.dumps(per_process)
    assert sum(per_process.values()) == REQUESTS
