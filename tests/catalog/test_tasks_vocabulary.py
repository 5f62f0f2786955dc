"""The beat task that recounts search's vocabulary."""

import pytest

from catalog.tasks import refresh_search_vocabulary
from recommendations.recall.spelling import vocabulary_load
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


def test_the_task_brings_new_products_words_into_the_vocabulary():
    ProductFactory(external_id="A1", title="Copper Kettle", brand="")
    assert "kettle" not in vocabulary_load().counts

    refresh_search_vocabulary()

    assert vocabulary_load().counts["kettle"] == 1
