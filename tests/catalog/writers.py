"""Another transaction writing the catalog, held open while a test looks on."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.db import connection, transaction


@contextmanager
def another_transaction_writing(write: Callable[[], object]) -> Iterator[None]:
    """Within the block, a transaction on another connection has run `write` and is still open;
    it commits when the block ends. Only for tests on committed data (`transaction=True`)."""
    wrote, release = threading.Event(), threading.Event()

    def writer() -> None:
        try:
            with transaction.atomic():
                write()
                wrote.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert wrote.wait(10), "the other transaction did not write"
        yield
    finally:
        release.set()
        thread.join(10)
