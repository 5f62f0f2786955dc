"""The prompt preview answers malformed input with a message or a 400, never a 500."""

import pytest

from recommendations.adminjobs.models import AdminJob
from recommendations.reasons.templates import template_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def preview_url() -> str:
    template = template_create(name="why", body="Because you liked {{ product.title }}.", grounded="")
    return f"/admin/recommendations/prompttemplate/{template.pk}/preview/"


@pytest.mark.parametrize("field", ["customer", "product"])
def test_a_nul_byte_in_the_prompt_preview_is_a_message(admin_client, preview_url, field):
    params = {"customer": "alice", "product": "mug", field: "x\x00y"}

    response = admin_client.post(preview_url, params)

    assert response.status_code == 200
    assert f"{field}: must not contain a NUL character." in response.content.decode()
    assert not AdminJob.objects.exists()  # nothing was queued


@pytest.mark.parametrize("version", ["abc", "-1", "99999999999999999999999", "²"])
def test_a_version_that_is_no_id_is_a_400(admin_client, preview_url, version):
    response = admin_client.get(preview_url, {"version": version})

    assert response.status_code == 400


def test_an_unknown_version_is_a_404(admin_client, preview_url):
    assert admin_client.get(preview_url, {"version": "123456"}).status_code == 404


@pytest.mark.parametrize("job", ["abc", "00000000-0000-0000-0000-000000000000", "\x00"])
def test_a_job_that_is_not_one_is_a_404(admin_client, preview_url, job):
    assert admin_client.get(preview_url, {"job": job}).status_code == 404
