"""deploy/ cannot be run here (no Docker engine), so its files are parsed and checked: services
exist and are wired, every metric a dashboard or an alert reads is exported by the code."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from prometheus_client.parser import text_string_to_metric_families

DEPLOY = Path(settings.BASE_DIR) / "deploy"
# Metric names the project exports start with these; anything else in an expression is a PromQL
# function, keyword or label, or one of Prometheus' own series below.
EXPORTED_PREFIXES = ("recsite_", "django_", "process_", "python_")
PROMETHEUS_OWN = {"up"}
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


def load_yaml(relative: str) -> dict:
    return yaml.safe_load((DEPLOY / relative).read_text())


@pytest.fixture(scope="module")
def compose() -> dict:
    return load_yaml("docker-compose.yml")


def dashboards() -> dict[str, dict]:
    return {path.name: json.loads(path.read_text()) for path in sorted((DEPLOY / "grafana/dashboards").glob("*.json"))}


def dashboard_expressions() -> list[str]:
    return [
        target["expr"]
        for dashboard in dashboards().values()
        for panel in dashboard["panels"]
        for target in panel["targets"]
    ]


def alert_rules() -> list[dict]:
    return [rule for group in load_yaml("prometheus/alerts.yml")["groups"] for rule in group["rules"]]


def metric_names(expr: str) -> set[str]:
    without_strings = re.sub(r'"[^"]*"', "", expr)
    without_labels = re.sub(r"\{[^}]*\}", "", without_strings)
    without_groupings = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", without_labels)
    names = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", without_groupings))
    return {n for n in names if n.startswith(EXPORTED_PREFIXES) or n in PROMETHEUS_OWN}


@pytest.fixture(scope="module")
def exported(django_db_setup, django_db_blocker) -> set[str]:
    """Every series name /metrics exports (families with no samples yet included)."""
    from django.test import Client

    with django_db_blocker.unblock():
        body = Client().get("/metrics").content.decode()
    names = set()
    for family in text_string_to_metric_families(body):
        names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ("",)))
    # The Celery workers declare theirs in the same module (recsite.metrics) and serve them alike.
    return names


def test_every_metric_in_dashboards_and_alerts_is_exported(exported):
    used = set()
    for expr in dashboard_expressions() + [rule["expr"] for rule in alert_rules()]:
        used |= metric_names(expr)

    assert used - PROMETHEUS_OWN, "no metric found: the expression parser is broken"
    assert sorted(used - PROMETHEUS_OWN - exported) == []


def test_the_metric_name_parser_finds_names_and_skips_labels_and_functions():
    expr = 'histogram_quantile(0.99, sum by (le, stage) (rate(recsite_stage_latency_seconds_bucket{stage="rank"}[5m])))'

    assert metric_names(expr) == {"recsite_stage_latency_seconds_bucket"}
    assert metric_names('sum by (queue) (up{job="celery-worker"}) == 0') == {"up"}


def test_alert_rules_cover_latency_errors_drift_srm_and_workers():
    rules = {rule["alert"]: rule for rule in alert_rules()}

    assert {
        "RecommendationsP99LatencyHigh",
        "ApiErrorRateHigh",
        "EmbeddingDrift",
        "ExperimentSampleRatioMismatch",
        "NoWorkerAlive",
    } <= set(rules)
    assert all(
        rule["labels"]["severity"] in {"page", "ticket"} and rule["annotations"]["summary"] for rule in rules.values()
    )


def test_dashboards_show_latency_by_stage_ctr_by_variant_drift_queues_and_failures():
    exprs = " ".join(dashboard_expressions())

    for needle in (
        "recsite_stage_latency_seconds_bucket",
        "recsite_experiment_clicks_total",
        "recsite_drift_psi",
        "recsite_celery_queue_length",
        "recsite_celery_task_failures_total",
    ):
        assert needle in exprs
    datasource = load_yaml("grafana/provisioning/datasources/prometheus.yml")["datasources"][0]
    for dashboard in dashboards().values():
        assert {panel["id"] for panel in dashboard["panels"]} == set(range(1, len(dashboard["panels"]) + 1))
        assert {t["datasource"]["uid"] for p in dashboard["panels"] for t in p["targets"]} == {datasource["uid"]}


def test_compose_services_and_their_references_exist(compose):
    services = compose["services"]

    assert {"web", "worker-gpu", "worker-default", "beat", "db", "redis", "prometheus", "grafana"} <= set(services)
    for name, service in services.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown {dependency}"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in compose["volumes"], f"{name} uses undeclared volume {source}"
    assert "pgvector" in services["db"]["image"]
    assert "gunicorn" in services["web"]["command"]


def test_workers_consume_their_queues_and_the_gpu_worker_gets_the_gpu(compose):
    services = compose["services"]
    gpu, default = services["worker-gpu"], services["worker-default"]

    assert gpu["command"][gpu["command"].index("-Q") + 1] == "gpu"
    assert default["command"][default["command"].index("-Q") + 1] == "default"
    assert gpu["runtime"] == "nvidia"
    assert gpu["deploy"]["resources"]["reservations"]["devices"][0]["capabilities"] == ["gpu"]
    # Every task routed to a queue has a worker consuming it.
    assert {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()} <= {"gpu", "default"}
    for worker in (gpu, default):
        # compose turns `$$` into a literal `$`; the script then passes its arguments on to celery
        script = worker["command"][2].replace("$$", "$")
        assert worker["command"][:4] == ["sh", "-c", worker["command"][2], "celery"]
        assert script.endswith('exec celery -A recsite "$@"')
        assert 'rm -rf "$PROMETHEUS_MULTIPROC_DIR"' in script


def test_prometheus_scrapes_the_services_on_the_ports_they_serve(compose):
    services = compose["services"]
    config = load_yaml("prometheus/prometheus.yml")
    targets = {
        job["job_name"]: [t for static in job["static_configs"] for t in static["targets"]]
        for job in config["scrape_configs"]
    }

    assert config["rule_files"] == ["/etc/prometheus/alerts.yml"]
    assert targets["recsite-web"] == ["web:8000"]
    assert services["web"]["environment"]["GUNICORN_BIND"] == "0.0.0.0:8000"
    # Django answers the scrape (Host: web) and the health check (Host: 127.0.0.1), whatever the public hosts
    allowed = services["web"]["environment"]["DJANGO_ALLOWED_HOSTS"].split(",")
    assert {"web", "127.0.0.1"} <= set(allowed)
    assert "127.0.0.1:8000/readyz" in " ".join(services["web"]["healthcheck"]["test"])
    for target in targets["celery-worker"]:
        host, port = target.split(":")
        assert services[host]["environment"]["CELERY_METRICS_PORT"] == port
    mounted = {v.split(":")[1] for v in services["prometheus"]["volumes"] if v.startswith(".")}
    assert "/etc/prometheus/alerts.yml" in mounted


def test_grafana_provisions_the_dashboards_folder_it_mounts(compose):
    provider = load_yaml("grafana/provisioning/dashboards/recsite.yml")["providers"][0]
    mounts = dict(v.split(":")[:2] for v in compose["services"]["grafana"]["volumes"] if v.startswith("."))

    assert mounts["./grafana/dashboards"] == provider["options"]["path"]
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"
