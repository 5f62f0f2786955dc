"""The drift page's permissions and its reading of the reports."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from monitoring.drift_summary import drift_level
from monitoring.models import DriftReference

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("psi", "level"), [(0.05, "ok"), (0.1, "watch"), (0.2, "watch"), (0.21, "drift")])
def test_drift_level_reads_psi_against_the_threshold(psi, level):
    assert drift_level(psi=psi, threshold=0.2) == level


def test_operators_open_the_drift_page(client, django_user_model):
    user = django_user_model.objects.create_user("o", is_staff=True)
    user.groups.add(Group.objects.get(name="Operators"))
    client.force_login(user)
    assert client.get("/admin/monitoring/driftreport/").status_code == 200
    assert client.get("/admin/monitoring/placementdailyquality/").status_code == 200


def test_merchandisers_cannot_set_the_reference(client, django_user_model):
    user = django_user_model.objects.create_user("m", is_staff=True)
    user.groups.add(Group.objects.get(name="Merchandisers"))
    client.force_login(user)
    response = client.post("/admin/monitoring/driftreport/set-reference/")
    assert response.status_code == 403
    assert DriftReference.objects.count() == 0
