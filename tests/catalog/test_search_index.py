"""Search's full-text index left without pending entries: by the merge, after imports, by its task."""

import pytest
from django.db import connection

from catalog.dispatch import products_changed
from catalog.search_index import INDEX, search_index_merge_pending
from catalog.tasks import merge_search_index_pending
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


def test_the_merge_empties_the_pending_list_written_products_left():
    # given products written since the index was last merged (their entries wait in the pending list)
    search_index_merge_pending()
    ProductFactory.create_batch(30)

    # when / then: the first merge moves pages, a second finds none
    assert search_index_merge_pending() > 0
    assert search_index_merge_pending() == 0


def test_an_import_leaves_nothing_pending():
    ProductFactory.create_batch(30)

    products_changed(request_embed=False)

    assert search_index_merge_pending() == 0


def test_the_beat_task_merges(settings):
    assert settings.CELERY_BEAT_SCHEDULE["merge-search-index-pending"]["task"] == merge_search_index_pending.name
    ProductFactory.create_batch(30)

    merge_search_index_pending()

    assert search_index_merge_pending() == 0


def test_the_pending_list_is_bounded_to_256_kb():
    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = %s", [INDEX])
        assert cursor.fetchone()[0] == ["gin_pending_list_limit=256"]
