"""Shared by the reasons tests: a small shop whose feed has every kind of basis, templates, and a
local OpenAI-compatible HTTP server (a real endpoint on 127.0.0.1, answers scripted per test)."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

from catalog.models import EventType, ItemNeighbor, ItemPopularity, ProductEmbedding
from recommendations.reasons.models import PromptTemplate, Purpose
from recommendations.reasons.templates import (
    DEFAULT_GROUNDED,
    DEFAULT_REASON_BODY,
    DEFAULT_RERANK_BODY,
    template_create,
)
from tests.factories import CustomerFactory, EventFactory, ProductFactory

DIM = 384
NOW = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)


def unit(*pairs):
    vector = np.zeros(DIM, dtype=np.float32)
    for dim, value in pairs:
        vector[dim] = value
    return vector / np.linalg.norm(vector)


def default_templates() -> dict[str, PromptTemplate]:
    """The default reason and rerank templates (transactional tests flush the migration's)."""
    out = {}
    for name, purpose, body, grounded in (
        ("default-reason", Purpose.REASON, DEFAULT_REASON_BODY, DEFAULT_GROUNDED),
        ("default-rerank", Purpose.RERANK, DEFAULT_RERANK_BODY, ""),
    ):
        out[purpose] = PromptTemplate.objects.filter(name=name).first() or template_create(
            name=name, purpose=purpose, body=body, grounded=grounded
        )
    return out


def make_shop() -> dict:
    """alice bought MUG and viewed KETTLE. item-CF: mug → teapot, saucer. Semantic: kettle ~ toaster.
    Popularity: lamp > teapot > mug."""
    p = {
        "mug": ProductFactory(external_id="mug", title="WHITE MUG", price="3.50"),
        "kettle": ProductFactory(external_id="kettle", title="RED KETTLE", price="20.00"),
        "teapot": ProductFactory(external_id="teapot", title="BLUE TEAPOT", price="12.50"),
        "saucer": ProductFactory(external_id="saucer", title="GREEN SAUCER", price="2.00"),
        "toaster": ProductFactory(external_id="toaster", title="RED TOASTER", price="25.00"),
        "lamp": ProductFactory(external_id="lamp", title="DESK LAMP", price="15.00"),
    }
    alice = CustomerFactory(external_id="alice")
    EventFactory(customer=alice, product=p["mug"], type=EventType.PURCHASE, timestamp=NOW - dt.timedelta(days=1))
    EventFactory(customer=alice, product=p["kettle"], type=EventType.VIEW, timestamp=NOW)
    ItemNeighbor.objects.create(product=p["mug"], neighbor=p["teapot"], score=0.6, rank=1)
    ItemNeighbor.objects.create(product=p["mug"], neighbor=p["saucer"], score=0.4, rank=2)
    for name, score in [("lamp", 10.0), ("teapot", 5.0), ("mug", 4.0)]:
        ItemPopularity.objects.create(product=p[name], score=score, computed_at=NOW)
    vectors = {"mug": unit((0, 1.0)), "kettle": unit((1, 1.0)), "toaster": unit((1, 1.0), (2, 0.2))}
    for name, vector in vectors.items():
        ProductEmbedding.objects.create(product=p[name], model_name="hand-made", text_hash="x", vector=vector)
    return p


class ChatServer:
    """An OpenAI-compatible /v1/chat/completions endpoint on a free local port.

    `answer(prompt) -> (status, text)` decides each reply; `requests` records the prompts, and
    `max_in_flight` the most requests handled at once.
    """

    def __init__(self, answer: Callable[[str], tuple[int, str]], delay_s: float = 0.0) -> None:
        self.answer = answer
        self.delay_s = delay_s
        self.requests: list[dict] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server._lock:
                    server.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    time.sleep(server.delay_s)
                    status, text = server.answer(body["messages"][-1]["content"])
                finally:
                    # Counted out before the reply goes: a client that got it may send its next
                    # request at once, which must not find this one still counted.
                    with server._lock:
                        server.in_flight -= 1
                payload = json.dumps({"choices": [{"message": {"role": "assistant", "content": text}}]}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> ChatServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
