"""Offline evaluation (DESIGN.md, "Offline evaluation protocol"): split, score, measure."""
