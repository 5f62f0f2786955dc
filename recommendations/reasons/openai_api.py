"""The OpenAI-compatible backend: POST {url}/chat/completions (vLLM, Ollama, TGI, OpenAI).

Standard library HTTP only. Each prompt is one request; up to `concurrency` run at once; a
timeout or a 429/5xx answer is retried `retries` times with exponential backoff; other errors
fail at once. A prompt that still fails yields empty text (the guardrails then fall back to the
grounded reason), so one bad request never loses a batch.
"""

from __future__ import annotations

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
        for attempt in range(self.retries + 1):
            try:
                request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    answer = json.loads(response.read())
                text = answer["choices"][0]["message"]["content"] or ""
                return Generated(text=text.strip(), latency_ms=(time.perf_counter() - began) * 1000)
            except urllib.error.HTTPError as exc:
                if exc.code not in RETRY_STATUSES or attempt == self.retries:
                    logger.warning("reason endpoint answered %s: giving up on this prompt", exc.code)
                    break
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                if attempt == self.retries:
                    logger.warning("reason endpoint unreachable (%s): giving up on this prompt", exc)
                    break
            except (ValueError, KeyError, IndexError, TypeError):
                logger.warning("reason endpoint sent an answer that is not a chat completion")
                break
            time.sleep(BACKOFF_S * 2**attempt)
        return Generated(text="", latency_ms=(time.perf_counter() - began) * 1000)
