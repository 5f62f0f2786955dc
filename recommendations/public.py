"""What other apps use of the recommendation engine: the bad cases (placement quality counts them)
the name of the embedding model (drift compares vectors of one model only) and the stored
embeddings' dimension (drift's memory plan), the seeded customer sample of jobs over their memory
budget (drift samples as the neighbour jobs do), and the served lists and active models the
overview page reports."""

from recommendations.badcases.models import BadCase, BadCaseStatus
from recommendations.embeddings.knn import knn_dimension, knn_order_sql
from recommendations.embeddings.model import embedding_model_name
from recommendations.embeddings.stored import stored_dimension
from recommendations.interactions import CUSTOMER_SAMPLE, CUSTOMER_SAMPLE_SEED
from recommendations.models import CollaborativeModel, RankerModel, ServedList
from recommendations.recall.budget import sample_rule

__all__ = [
    "CUSTOMER_SAMPLE",
    "CUSTOMER_SAMPLE_SEED",
    "BadCase",
    "BadCaseStatus",
    "CollaborativeModel",
    "RankerModel",
    "ServedList",
    "embedding_model_name",
    "sample_rule",
    "knn_dimension",
    "knn_order_sql",
    "stored_dimension",
]
