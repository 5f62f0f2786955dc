import os

import pytest
from django.conf import settings
from django.db import connections
from rest_framework.test import APIClient

from tests.factories import make_api_key

# The tests' cache is a Redis database of its own: tests write it (keys kept across test
# databases, the recall inputs' version), and a development server on the default one must not
# see them. Set before any test touches the cache; the worker and gunicorn processes tests start
# inherit it through the environment.
TEST_CACHE_URL = f"redis://127.0.0.1:6379/{os.environ.get('RECSITE_TEST_CACHE_DB', '13')}"
os.environ["CACHE_URL"] = TEST_CACHE_URL
settings.CACHES["default"]["LOCATION"] = TEST_CACHE_URL
# Rows written after a response (served lists, exposures) are written by the request's thread:
# a test's transaction is its own thread's connection, which a writer thread's would not see
# (tests/recsite/test_after_response.py tests the writer thread on committed data).
settings.AFTER_RESPONSE_WRITER = "inline"
# Every search reads the catalog's state: a test that writes a product and searches again within a
# second must find it (tests/recommendations/test_kept_answers.py tests the checks' interval).
settings.CATALOG_CHECK_SECONDS = 0


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def storefront_client(db) -> APIClient:
    """A client sending an API key with every scope."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {make_api_key()}")
    return client


# A Redis database of its own, so a development worker on the default one never takes a test's task.
TEST_REDIS_DB = int(os.environ.get("RECSITE_TEST_REDIS_DB", "14"))


@pytest.fixture
def redis_url() -> str:
    import redis

    url = f"redis://127.0.0.1:6379/{TEST_REDIS_DB}"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.exceptions.ConnectionError as error:
        pytest.skip(f"no Redis at {url} for a real Celery worker: {error}")
    return url


@pytest.fixture(autouse=True)
def fresh_query_vectors():
    """A query's vector remembered by an earlier test's model (or stand-in) is not this one's."""
    from recommendations.embeddings.queries import query_vectors_forget

    query_vectors_forget()
    yield
    query_vectors_forget()


@pytest.fixture(autouse=True)
def fresh_kept_answers():
    """An answer (or a reason's facts) kept by an earlier test was read from its rolled-back catalog
    (the generation, a sequence, is not rolled back)."""
    from catalog.public import catalog_state_forget
    from recommendations.kept_answers import kept_answers_forget
    from recommendations.reasons.facts import catalog_facts_forget

    kept_answers_forget()
    catalog_facts_forget()
    catalog_state_forget()
    yield
    kept_answers_forget()
    catalog_state_forget()


@pytest.fixture(autouse=True)
def fresh_reason_caches():
    """The reasons' per-process template and adapter snapshots and text cache hold rows of earlier tests."""
    from recommendations.reasons.adapter_serving import adapter_active_forget
    from recommendations.reasons.cache import memory_clear
    from recommendations.reasons.pool import active_templates_forget

    active_templates_forget()
    adapter_active_forget()
    memory_clear()
    yield
    active_templates_forget()
    adapter_active_forget()
    memory_clear()


@pytest.fixture(autouse=True)
def fresh_search_vocabulary():
    """Search's per-process vocabulary snapshot holds the words of earlier tests' catalogs."""
    from recommendations.recall.spelling import vocabulary_forget

    vocabulary_forget()
    yield
    vocabulary_forget()


@pytest.fixture(autouse=True)
def fresh_recall_inputs_version():
    """Candidates computed ahead live in the shared cache, which outlives test databases (whose pks
    start again at 1): each test gets a version no other test used, so none finds another's."""
    import uuid

    from django.core.cache import cache

    from recommendations.recall import inputs

    try:
        cache.set(inputs.VERSION_KEY, uuid.uuid4().int >> 72, timeout=None)
    except Exception:
        pass  # the cache out of reach: nothing is kept ahead, the version reads as None
    inputs._version.forget()
    yield
    inputs._version.forget()


@pytest.fixture(autouse=True)
def fresh_knn_dimension():
    """The kNN queries' cached column dimension: a test that re-types the column rolls it back."""
    from recommendations.embeddings.knn import knn_dimension_forget

    knn_dimension_forget()
    yield
    knn_dimension_forget()


@pytest.fixture(autouse=True)
def fanout_pool_closed():
    """The fan-out pool's threads keep connections open: closed after each test, so none is left
    when a test database is flushed or dropped."""
    from recsite.fanout import pool_close

    yield
    pool_close()


@pytest.fixture
def page(live_server):
    """A page in headless Chromium (tests.browser); page-test modules set `pytestmark = BROWSER_TEST`.

    While Playwright's sync API runs its event loop in this thread, Django keeps the test's
    database connections apart from the thread's own (asgiref's Local sees a running loop), so
    the test database's teardown never closed them: closed here, before the loop stops.
    """
    from tests.browser import chromium_page

    with chromium_page() as browser_page:
        try:
            yield browser_page
        finally:
            connections.close_all()


@pytest.fixture
def admin_jobs_inline():
    """Admin jobs (recommendations.adminjobs) run inside the request that submits them, in Celery's
    eager mode: for tests of what a page shows. tests/recommendations/adminjobs/ run a real worker."""
    from recsite.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture(autouse=True)
def project_celery_app_current():
    """The project's Celery app current for every test: celery's own `celery_app` fixture makes a
    test app current and a later test's tasks went to that app's in-memory broker (a worker test
    waited for a job that never reached its worker)."""
    from recsite.celery import app

    app.set_current()
    yield
