import uuid

import pytest
from celery import Celery

from tests.processes import project_app_broker


@pytest.fixture
def job_queue(redis_url, settings):
    """The pages queue their jobs on a queue of this test's own, in the test's Redis database."""
    queue = f"adminjobs-test-{uuid.uuid4().hex}"
    settings.ADMIN_JOB_QUEUE = settings.ADMIN_JOB_MODEL_QUEUE = queue
    try:
        with project_app_broker(redis_url):
            yield queue
    finally:
        client = Celery("recsite-test-client", broker=redis_url)
        with client.connection_for_write() as broker:
            broker.default_channel.queue_delete(queue)
