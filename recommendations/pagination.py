"""Pages of a recommendation list: `page_size` items at a time, and an opaque cursor for the next.

The cursor is signed (django.core.signing, SECRET_KEY) and holds the product pks served on the
pages so far (sorted, delta-encoded, compressed: a few hundred bytes for a few hundred items)
and a digest of the request it belongs to. The next page is the same request with those items
left out and recall asked for as many more candidates, so no item repeats even when the list
changed in between (new events, a new model). The list ends (`next_cursor` null) when a page
comes back short or MAX_PAGED_ITEMS items have been served, which keeps the cursor URL-sized.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate

from django.core import signing

from recommendations.contracts import PlacementRequest
from recommendations.serving import Served, placement_serve

CURSOR_SALT = "recommendations.pagination.cursor"
MAX_PAGED_ITEMS = 500


class CursorInvalid(ValueError):
    """A cursor this API did not issue, altered, or issued for another request."""


@dataclass(frozen=True)
class Page:
    served: Served
    next_cursor: str | None


def request_digest(request: PlacementRequest) -> str:
    """What identifies a list across its pages: every parameter but the page's size, the pages
    already served and whether reasons are written."""
    identity = dataclasses.replace(request, k=0, seen=(), reasons=True)
    return hashlib.sha256(repr(identity).encode()).hexdigest()[:16]


def cursor_encode(*, request: PlacementRequest, served_pks: Sequence[int]) -> str:
    pks = sorted(set(request.seen) | set(served_pks))
    deltas = [b - a for a, b in zip([0, *pks], pks, strict=False)]
    return signing.dumps({"r": request_digest(request), "s": deltas}, salt=CURSOR_SALT, compress=True)


def cursor_decode(*, cursor: str, request: PlacementRequest) -> tuple[int, ...]:
    """The pks served on the earlier pages of `request`'s list; raises `CursorInvalid`."""
    try:
        data = signing.loads(cursor, salt=CURSOR_SALT)
    except signing.BadSignature as exc:
        raise CursorInvalid("is not a cursor this API issued, or it was altered.") from exc
    if not isinstance(data, dict) or data.get("r") != request_digest(request):
        raise CursorInvalid("belongs to another request: send it with the same parameters as the first page.")
    deltas = data.get("s")
    if not isinstance(deltas, list) or not all(isinstance(d, int) and d >= 0 for d in deltas):
        raise CursorInvalid("is not a cursor this API issued, or it was altered.")
    return tuple(accumulate(deltas))


def page_serve(*, request: PlacementRequest, cursor: str | None = None) -> Page:
    """One page of `request`'s list (the first, or the one after `cursor`'s pages) and the cursor
    of the next; raises `CursorInvalid` for a bad cursor."""
    seen = cursor_decode(cursor=cursor, request=request) if cursor else ()
    served = placement_serve(request=dataclasses.replace(request, seen=seen))
    items = served.recommendation.items
    ended = len(items) < served.k or len(seen) + len(items) >= MAX_PAGED_ITEMS
    next_cursor = None if ended else cursor_encode(request=request, served_pks=[*seen, *(i.product_pk for i in items)])
    return Page(served=served, next_cursor=next_cursor)
