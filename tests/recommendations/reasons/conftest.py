import pytest

from tests.recommendations.reasons_fixtures import default_templates, make_shop


@pytest.fixture
def shop():
    """The reasons' shop (`make_shop`) with the default templates active."""
    default_templates()
    return make_shop()
