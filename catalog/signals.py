"""Signals catalog sends; other apps listen (catalog imports no other app)."""

from django.dispatch import Signal

# Sent after new click events are stored, with `recommendation_ids`: the list each click carries
# (one entry per click). experiments counts them per variant.
clicks_stored = Signal()
