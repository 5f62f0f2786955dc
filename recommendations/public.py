"""What other apps use of the recommendation engine: the bad cases (placement quality counts them)
the name of the embedding model (drift compares vectors of one model only), and the served lists
and active models the overview page reports."""

from recommendations.badcases.models import BadCase, BadCaseStatus
from recommendations.embeddings.model import embedding_model_name
from recommendations.models import CollaborativeModel, RankerModel, ServedList

__all__ = ["BadCase", "BadCaseStatus", "CollaborativeModel", "RankerModel", "ServedList", "embedding_model_name"]
