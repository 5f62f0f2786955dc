"""The OpenAI-compatible backend: POST {url}/chat/completions (vLLM, Ollama, TGI, OpenAI).

Standard library HTTP only. Each prompt is one request; up to `concurrency` run at once; a
timeout or a 429/5xx answer is retried `retries` times with exponential backoff; other errors
fail at once. A prompt that still fails yields empty text and says why (`Generated.failure`:
nothing is cached for it and the grounded reason is served), so one bad request never loses a batch.

`timeout_s` bounds each blocking step of a request (connecting, then each read). When a prompt
timed out or found the endpoint unreachable on every try, the circuit opens: for `CIRCUIT_OPEN_S`
every prompt of this process fails at once, so a dead endpoint holds a worker for one prompt's
tries (about `(retries + 1) * timeout_s`), not for every prompt of its queue.
"""

from __future__ import annotations

import http.client
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from recommendations.reasons.backends import OPENAI, BackendError, Generated

logger = logging.getLogger(__name__)
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
BACKOFF_S = 0.2
CIRCUIT_OPEN_S = 30.0
TIMEOUT = "timeout"
UNREACHABLE = "unreachable"
ERROR = "error"


class OpenAIBackend:
    name = OPENAI

    def __init__(
        self,
        *,
        url: str,
        model: str,
        api_key: str = "",
        timeout_s: float = 10.0,
        retries: int = 2,
        concurrency: int = 4,
    ) -> None:
        if not url:
            raise BackendError("REASON_OPENAI_URL is not set")
        self.url = url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.retries = retries
        self.concurrency = max(1, concurrency)
        # Until when (time.monotonic) prompts fail at once, and with which failure.
        self._open_until = 0.0
        self._open_failure = ""

    def generate(self, *, prompts: Sequence[str], max_new_tokens: int) -> list[Generated]:
        with ThreadPoolExecutor(max_workers=min(self.concurrency, max(1, len(prompts)))) as pool:
            return list(pool.map(lambda prompt: self._one(prompt, max_new_tokens), prompts))

    def _one(self, prompt: str, max_new_tokens: int) -> Generated:
        began = time.perf_counter()
        body = json.dumps(
            {
                "model": self.model,
                "messages": [{"role": "user", "content": prompt}],
                "max_tokens": max_new_tokens,
                "temperature": 0,
            }
        ).encode()
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        failure = ERROR
        for attempt in range(self.retries + 1):
            if time.monotonic() < self._open_until:
                failure = self._open_failure
                break
            try:
                request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    answer = json.loads(response.read())
                text = answer["choices"][0]["message"]["content"] or ""
                return Generated(text=text.strip(), latency_ms=(time.perf_counter() - began) * 1000)
            except urllib.error.HTTPError as exc:
                failure = ERROR
                if exc.code not in RETRY_STATUSES or attempt == self.retries:
                    logger.warning("reason endpoint answered %s: giving up on this prompt", exc.code)
                    break
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                # A read times out as TimeoutError, a connection attempt as URLError(TimeoutError).
                timed_out = isinstance(exc, TimeoutError) or isinstance(getattr(exc, "reason", None), TimeoutError)
                failure = TIMEOUT if timed_out else UNREACHABLE
                if attempt == self.retries:
                    logger.warning("reason endpoint %s (%s): giving up on this prompt", failure, exc)
                    self._open_until, self._open_failure = time.monotonic() + CIRCUIT_OPEN_S, failure
                    break
            except (ValueError, KeyError, IndexError, TypeError, http.client.HTTPException):
                logger.warning("reason endpoint sent an answer that is not a chat completion")
                failure = ERROR
                break
            time.sleep(BACKOFF_S * 2**attempt)
        return Generated(text="", latency_ms=(time.perf_counter() - began) * 1000, failure=failure)
