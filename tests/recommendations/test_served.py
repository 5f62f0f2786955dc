"""recommendations.served.session_served_pks: the items a session was served lately, newest first."""

import datetime as dt
import uuid

import pytest
from django.utils import timezone

from recommendations.contracts import Recommendation, ScoredItem
from recommendations.served import SESSION_SERVED_HOURS, served_list_record, session_served_pks
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


def _served(*, session_id: str, product_ids: list[str], at: dt.datetime) -> None:
    items = tuple(ScoredItem(product_pk=0, product_id=p, title=p, score=1.0, routes={}) for p in product_ids)
    served_list_record(
        recommendation=Recommendation(recommendation_id=uuid.uuid4(), strategy="fused", items=items),
        placement="home_feed",
        customer_id=None,
        session_id=session_id,
        served_at=at,
    )


def test_the_sessions_items_of_its_recent_lists_newest_first_and_once_each():
    now = timezone.now()
    pks = {name: ProductFactory(external_id=name).pk for name in ("a", "b", "c", "d", "e")}
    _served(session_id="s1", product_ids=["a", "b"], at=now - dt.timedelta(hours=2))
    _served(session_id="s1", product_ids=["c", "a", "gone"], at=now - dt.timedelta(hours=1))
    _served(session_id="s1", product_ids=["d"], at=now - dt.timedelta(hours=SESSION_SERVED_HOURS, seconds=1))
    _served(session_id="s2", product_ids=["e"], at=now)

    found = session_served_pks(session_id="s1", now=now)

    # an id no product has any more is skipped; a day-old list and another session's are not read
    assert found == (min(pks["a"], pks["c"]), max(pks["a"], pks["c"]), pks["b"])
