"""Signals catalog sends; other apps listen (catalog imports no other app)."""

from django.dispatch import Signal

# Sent after new click events are stored, with `recommendation_ids`: the list each click carries
# (one entry per click). experiments counts them per variant.
clicks_stored = Signal()

# Sent after a call of the events service stored new events, with `customer_ids`: the external ids
# of the customers whose events it stored (sorted, each once), or None when there were more than
# the service names (a bulk import). recommendations computes their feeds ahead.
events_stored = Signal()
