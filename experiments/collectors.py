"""Experiments' stored gauge of /metrics (recsite.metrics_export): the sample-ratio-mismatch
p-value of each running experiment, as of its latest snapshot, read when Prometheus scrapes."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric

from experiments.models import Experiment, Status


def srm_metrics() -> Iterator[Metric]:
    srm = GaugeMetricFamily(
        "recsite_experiment_srm_p_value",
        "Sample-ratio-mismatch p-value of a running experiment, as of its latest snapshot.",
        labels=["experiment"],
    )
    running = Experiment.objects.filter(status=Status.RUNNING, srm_p_value__isnull=False)
    for key, p_value in running.values_list("key", "srm_p_value"):
        srm.add_metric([key], p_value)
    yield srm
