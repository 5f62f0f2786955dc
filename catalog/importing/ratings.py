"""Rating scales: what shops send, mapped onto the 1–5 scale the engine stores and weighs.

A rating's weight and whether it is positive (`recommendations.interactions`) are defined on 1–5 stars; a shop
that rates 0.5–5 in halves, 1–10, 0–100 or thumbs up / down gets its ratings mapped linearly onto
it at import (lowest → 1, highest → 5), so "positive" (4 stars and up) means the top quarter of
any scale. Thumbs: up (1) → 5, down (0 or −1) → 1.

The scale is named per import, or inferred from the ratings of the file's first chunk (the
narrowest listed scale holding them all; a later rating outside it is a row error naming the
scale, and `--rating-scale` overrides the guess).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from catalog.importing.fields import FieldError

AUTO = "auto"


@dataclass(frozen=True)
class RatingScale:
    name: str
    low: float
    high: float

    def normalize(self, value: float) -> float:
        """`value` on 1–5; FieldError when it is not on this scale."""
        if self.name == "thumbs":
            if value not in (-1.0, 0.0, 1.0):
                raise FieldError("value", f"a thumbs rating must be 1 (up), 0 or -1 (down), got {value:g}")
            return 5.0 if value > 0 else 1.0
        if not self.low <= value <= self.high:
            raise FieldError(
                "value",
                f"a rating on the {self.name} scale must be between {self.low:g} and {self.high:g}, got {value:g}",
            )
        return 1.0 + 4.0 * (value - self.low) / (self.high - self.low)


# Narrowest first: inference picks the first that holds every rating seen.
SCALES: dict[str, RatingScale] = {
    scale.name: scale
    for scale in (
        RatingScale("thumbs", -1.0, 1.0),
        RatingScale("1-5", 1.0, 5.0),
        RatingScale("0.5-5", 0.5, 5.0),
        RatingScale("0-5", 0.0, 5.0),
        RatingScale("1-10", 1.0, 10.0),
        RatingScale("0-10", 0.0, 10.0),
        RatingScale("0-100", 0.0, 100.0),
    )
}
DEFAULT = SCALES["1-5"]


def rating_scale_infer(values: Iterable[float]) -> RatingScale:
    """The narrowest scale holding every value (thumbs only for values in {-1, 0, 1} with a down
    vote); 1–5 when there is none; ValueError when no listed scale holds them."""
    seen = sorted(set(values))
    if not seen:
        return DEFAULT
    if set(seen) <= {-1.0, 0.0, 1.0} and seen[0] < 1.0:
        return SCALES["thumbs"]
    for scale in SCALES.values():
        if scale.name != "thumbs" and scale.low <= seen[0] and seen[-1] <= scale.high:
            return scale
    raise ValueError(f"ratings from {seen[0]:g} to {seen[-1]:g} fit none of the scales {', '.join(SCALES)}; name one")
