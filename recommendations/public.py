"""What other apps use of the recommendation engine: the bad cases (placement quality counts them)
and the name of the embedding model (drift compares vectors of one model only)."""

from recommendations.badcases.models import BadCase
from recommendations.embeddings.model import embedding_model_name

__all__ = ["BadCase", "embedding_model_name"]
