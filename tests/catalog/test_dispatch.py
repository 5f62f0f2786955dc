"""request_embedding: queued by name after commit; an unreachable broker is a warning, not a hang."""

from __future__ import annotations

import logging
import time

import pytest

from catalog.dispatch import EMBED_TASK, request_embedding
from recsite.celery import app as celery_app

pytestmark = pytest.mark.django_db


def test_request_is_sent_by_name_after_commit(monkeypatch, django_capture_on_commit_callbacks):
    # given a recorder in place of the real send (the test is not about Redis delivering it)
    sent = []
    monkeypatch.setattr(celery_app, "send_task", lambda name, **kwargs: sent.append((name, kwargs)))

    # when
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        queued = request_embedding()
        assert sent == []  # nothing leaves before commit

    # then
    assert queued is True
    assert len(callbacks) == 1
    assert sent == [(EMBED_TASK, {"retry": False})]


def test_unreachable_broker_returns_false_quickly_and_warns(monkeypatch, caplog, django_capture_on_commit_callbacks):
    # given a broker address nothing listens on
    monkeypatch.setattr(celery_app.conf, "broker_url", "redis://127.0.0.1:1/0")

    # when
    started = time.perf_counter()
    with caplog.at_level(logging.WARNING, logger="catalog.dispatch"):
        with django_capture_on_commit_callbacks() as callbacks:
            queued = request_embedding()

    # then
    assert queued is False
    assert callbacks == []
    assert time.perf_counter() - started < 3
    assert "broker unreachable" in caplog.text
