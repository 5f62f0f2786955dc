"""What other apps use of experiments: the request path (which variant serves a customer, the
exposure log) and the models the back office and monitoring read."""

from experiments.charts import line_chart_svg
from experiments.models import Experiment, Exposure, Status, Variant
from experiments.serving import Assignment, experiment_assign, exposure_log

__all__ = [
    "line_chart_svg",
    "Assignment",
    "Experiment",
    "Exposure",
    "Status",
    "Variant",
    "experiment_assign",
    "exposure_log",
]
