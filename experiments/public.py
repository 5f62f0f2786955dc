"""What other apps use of experiments: the request path (which variant serves a customer, the
exposure log) and the models the back office and monitoring read."""

from experiments.models import Experiment, Exposure, Status, Variant
from experiments.serving import Assignment, experiment_assign, exposure_log

__all__ = ["Assignment", "Experiment", "Exposure", "Status", "Variant", "experiment_assign", "exposure_log"]
