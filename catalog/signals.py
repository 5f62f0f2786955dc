"""Signals catalog sends; other apps listen (catalog imports no other app)."""

from django.dispatch import Signal

# Sent after new click events are stored, with `recommendation_ids`: the list each click carries
# (one entry per click). experiments counts them per variant.
clicks_stored = Signal()

# Sent after a chunk of events is stored, with `customer_ids`: the external ids of the customers
# whose events it held (sorted, each once). recommendations computes their feeds ahead.
events_stored = Signal()
