"""What other apps use of experiments: the request path (which variant serves a customer, the
team-draft merge of an interleaving experiment, the exposure log), the models the back office and
monitoring read, and erasing a customer's exposures."""

from experiments.charts import line_chart_svg
from experiments.erasure import exposures_erase
from experiments.interleaving import TEAM_A, TEAM_B, team_draft
from experiments.models import Experiment, Exposure, Kind, Status, Variant
from experiments.serving import INTERLEAVED, Assignment, Team, experiment_assign, exposure_log

__all__ = [
    "INTERLEAVED",
    "TEAM_A",
    "TEAM_B",
    "Kind",
    "Team",
    "team_draft",
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
