"""Placements and strategies: where a list is shown and how it is made, as plain data.

The bottom of the domain: experiments (variants are strategies) and recommendations (the
pipeline serves one) both use it; it imports neither.
"""
