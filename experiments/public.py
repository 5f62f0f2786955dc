"""What other apps use of experiments: the request path (which variant serves a customer, the
exposure log), the models the back office and monitoring read, and erasing a customer's exposures."""

from experiments.charts import line_chart_svg
from experiments.erasure import exposures_erase
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
    "exposures_erase",
]
