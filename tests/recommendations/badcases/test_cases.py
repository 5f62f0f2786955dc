import uuid

import pytest

from recommendations.badcases.cases import badcase_create
from recommendations.badcases.models import BadCase, BadCaseSource, BadCaseStatus

pytestmark = pytest.mark.django_db


def test_badcase_create_stores_a_new_case_with_its_snapshot():
    rec_id = uuid.uuid4()
    case = badcase_create(
        source=BadCaseSource.REASON_GUARDRAIL,
        reason_code="unknown_brand",
        recommendation_id=rec_id,
        product_id="85123A",
        snapshot={"reason": "Because you love Acme", "checks": ["brand"]},
    )
    stored = BadCase.objects.get(pk=case.pk)
    assert stored.status == BadCaseStatus.NEW
    assert stored.recommendation_id == rec_id
    assert stored.snapshot["checks"] == ["brand"]
    assert stored.customer_external_id == ""
