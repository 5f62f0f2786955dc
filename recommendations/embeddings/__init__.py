"""Product embeddings: the model that makes them (`model`) and the batch job that stores them (`service`)."""
