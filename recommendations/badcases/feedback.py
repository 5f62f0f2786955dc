"""Customer feedback on a served item: a bad case with the list's snapshot, and for "not
interested" the item hidden for that customer from then on."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db import IntegrityError, models, transaction

from recommendations.badcases.cases import badcase_create
from recommendations.badcases.models import BadCase, BadCaseSource
from recommendations.badcases.snapshot import badcase_snapshot
from recommendations.models import HiddenItem, ServedList


class FeedbackReason(models.TextChoices):
    NOT_INTERESTED = "not_interested", "not interested"
    IRRELEVANT = "irrelevant"
    OFFENSIVE = "offensive"
    WRONG_PRICE = "wrong_price", "wrong price"
    OUT_OF_STOCK = "out_of_stock", "out of stock"
    OTHER = "other"


class FeedbackError(Exception):
    """Feedback that names something unknown; `field` is the input at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class FeedbackResult:
    bad_case_id: int
    created: bool
    hidden: bool


def feedback_submit(*, recommendation_id: uuid.UUID, product_id: str, reason: str, text: str = "") -> FeedbackResult:
    """Store feedback on item `product_id` of served list `recommendation_id`.

    The same feedback sent twice (same list, item and reason) returns the first case. Raises
    `FeedbackError` when the list is unknown (or past retention) or the item was not in it.
    """
    served = ServedList.objects.filter(pk=recommendation_id).first()
    if served is None:
        raise FeedbackError(
            "recommendation_id", "No served list has this id (unknown, not yet recorded, or past its retention)."
        )
    if all(item["id"] != product_id for item in served.items):
        raise FeedbackError("item", f"Item {product_id!r} was not in that list.")
    hidden = False
    with transaction.atomic():
        existing = BadCase.objects.filter(
            source=BadCaseSource.FEEDBACK, recommendation_id=recommendation_id, product_external_id=product_id
        ).filter(reason_code=reason)
        case = existing.first()
        created = case is None
        if case is None:
            case = badcase_create(
                source=BadCaseSource.FEEDBACK,
                reason_code=reason,
                text=text,
                recommendation_id=recommendation_id,
                customer_id=served.customer_external_id,
                product_id=product_id,
                placement=served.placement,
                snapshot=badcase_snapshot(served=served, product_id=product_id),
            )
        if reason == FeedbackReason.NOT_INTERESTED and served.customer_external_id:
            hidden_item_create(customer_id=served.customer_external_id, product_id=product_id, source="feedback")
            hidden = True
    return FeedbackResult(bad_case_id=case.pk, created=created, hidden=hidden)


def hidden_item_create(*, customer_id: str, product_id: str, source: str) -> bool:
    """Never recommend `product_id` to `customer_id` again; False when it was hidden already."""
    try:
        with transaction.atomic():
            _, created = HiddenItem.objects.get_or_create(
                customer_external_id=customer_id, product_external_id=product_id, defaults={"source": source}
            )
    except IntegrityError:  # a concurrent request hid it first
        return False
    return created
