import uuid

import pytest
from celery import Celery

from recsite.celery import app as celery_app


@pytest.fixture
def job_queue(redis_url, monkeypatch, settings):
    """The pages queue their jobs on a queue of this test's own, in the test's Redis database."""
    queue = f"adminjobs-test-{uuid.uuid4().hex}"
    monkeypatch.setattr(celery_app.conf, "broker_url", redis_url)
    # The app keeps its producers' connections: a fresh pool for the test's broker.
    monkeypatch.setattr(celery_app, "_pool", None)
    settings.ADMIN_JOB_QUEUE = settings.ADMIN_JOB_MODEL_QUEUE = queue
    try:
        yield queue
    finally:
        if celery_app._pool is not None:
            celery_app._pool.force_close_all()
        client = Celery("recsite-test-client", broker=redis_url)
        with client.connection_for_write() as broker:
            broker.default_channel.queue_delete(queue)
