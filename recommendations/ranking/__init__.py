"""Learned ranking: features, training, serving (LightGBM LambdaMART)."""
