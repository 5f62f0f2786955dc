"""The memory plan of `embed`: how many products it holds at once (the chunk) and how many texts
the model encodes together (the batch), so that what the job adds to its process stays within
EMBEDDING_MEMORY_BUDGET_MB.

The budget bounds what embedding adds, not the whole process: a Celery worker on the gpu queue that
holds a reason model (about 2 GB in fp32) embeds under the same budget as a fresh `manage.py
embed`. The process's RSS when the plan starts is measured and reported, never counted. What is
counted is the encoder's own size, the part no size shrinks: the growth of the RSS across loading
it (its libraries included), and never less than its weights' bytes (`encoder_weight_bytes`),
which stand for it when the process had loaded it before (its load then grows nothing; on a GPU
the weights are in the GPU's memory, a small overstatement). On top of it, a batch's activations
grow with its texts and, per text, with the padded length in tokens (the encoder pads a batch to
its longest text; attention grows with its square); the length is bounded from the longest
pending text's bytes (WordPiece and byte-level BPE tokens cover at least one byte each) and the
encoder's truncation. Embedding never samples: over the budget the chunk shrinks (down to the
batch), then both; when even the encoder plus one text does not fit, it refuses.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db.models import F, Func, IntegerField, Max, TextField, Value
from django.db.models.functions import Cast, Coalesce

from recommendations.embeddings.model import (
    active_encoder,
    embedding_model_name,
    encoder_max_tokens,
    encoder_weight_bytes,
)
from recsite.memory import MB, MemoryBudgetError, rss_mb

logger = logging.getLogger(__name__)

# Products read, embedded and written per chunk when the budget allows: large enough that encode's
# length-sorted batching and the one-statement write amortise well, small enough that a killed
# worker loses little.
CHUNK_SIZE = 2048
# Peak bytes of one text's activations in a batch, per token and per token pair, measured on
# all-MiniLM-L6-v2 in ONNX Runtime (1.8 MB a text at 64 tokens, 4.5 MB at 128, 16.5–20 MB at 256:
# docs/operations.md), rounded up to stay above each.
TOKEN_BYTES = 24 * 2**10
TOKEN_PAIR_BYTES = 320
# One product held in a chunk: its row, text, two hashes, its vector and the write's copies.
HELD_BYTES = 16 * 2**10
# product_text's labels and line breaks ("Brand: ", "Category: "), and the [CLS] / [SEP] tokens.
TEXT_OVERHEAD_TOKENS = 32


@dataclass(frozen=True)
class EmbedPlan:
    """How `embed` fits its budget, all of it on top of the process it runs in (`process_bytes`,
    measured as the plan started): the encoder, the sizes chosen, the estimate of what it adds."""

    budget_bytes: int
    process_bytes: int
    # The encoder's own size (`encoder_bytes`); `load_measured` when its load's growth was counted
    # rather than its weights.
    fixed_bytes: int
    load_measured: bool
    tokens: int
    pending: int
    chunk_size: int
    batch_size: int
    configured_batch: int

    @property
    def text_bytes(self) -> int:
        return activation_bytes(tokens=self.tokens)

    @property
    def estimate_bytes(self) -> int:
        """The peak of what the job adds to its process."""
        return self.fixed_bytes + self.batch_size * self.text_bytes + self.chunk_size * HELD_BYTES

    def describe(self) -> str:
        encoder = "its load" if self.load_measured else "its weights"
        head = (
            f"embed: estimated peak {self.estimate_bytes / MB:,.0f} MB over the process's "
            f"{self.process_bytes / MB:,.0f} MB for {self.pending:,} products "
            f"(encoder {self.fixed_bytes / MB:,.0f} MB, {encoder}; texts of up to {self.tokens} tokens) "
            f"(budget {self.budget_bytes / MB:,.0f} MB over the process)"
        )
        sizes = f"chunks of {self.chunk_size:,}, batches of {self.batch_size:,}"
        if self.chunk_size == CHUNK_SIZE and self.batch_size == min(self.configured_batch, CHUNK_SIZE):
            return f"{head}: {sizes}"
        return f"{head}: {sizes} to fit (at most {CHUNK_SIZE:,} and {self.configured_batch:,})"


def encoder_bytes() -> tuple[int, bool]:
    """The encoder's own size, loading it if need be, and whether that is its load's growth: the
    RSS the load added (libraries included) unless its weights are more, as they are when the
    process held the encoder already (or its load reused memory freed before)."""
    before = rss_mb()
    active_encoder()
    grown = int((rss_mb() - before) * MB)
    weights = encoder_weight_bytes()
    return max(grown, weights), grown > weights


def activation_bytes(*, tokens: int) -> int:
    """One text's share of a batch's peak activations when the batch pads to `tokens`."""
    return tokens * TOKEN_BYTES + tokens * tokens * TOKEN_PAIR_BYTES


def longest_text_tokens(*, pending) -> int:
    """An upper bound of the longest pending text in tokens: its fields' bytes plus the labels,
    at most what the encoder reads."""

    def octets(expression) -> Func:
        return Coalesce(Func(expression, function="OCTET_LENGTH", output_field=IntegerField()), Value(0))

    longest = pending.aggregate(
        longest=Max(
            octets(F("title"))
            + octets(F("description"))
            + octets(F("brand"))
            + octets(F("category__path"))
            + octets(Cast("attributes", TextField()))
        )
    )["longest"]
    return min(encoder_max_tokens(), (longest or 0) + TEXT_OVERHEAD_TOKENS)


def embed_plan(
    *, pending, budget_mb: int | None = None, batch_size: int | None = None, limit: int | None = None
) -> EmbedPlan:
    """The chunk and batch sizes that keep what `embed` adds to its process within its budget
    (EMBEDDING_MEMORY_BUDGET_MB unless given) for the `pending` products; MemoryBudgetError when
    even the encoder and one text do not fit. Loads the encoder first (to measure it)."""
    budget = (budget_mb if budget_mb is not None else settings.EMBEDDING_MEMORY_BUDGET_MB) * MB
    configured = batch_size or settings.EMBEDDING_BATCH_SIZE
    process = int(rss_mb() * MB)
    fixed, load_measured = encoder_bytes()
    tokens = longest_text_tokens(pending=pending)
    count = pending.count()
    per_text = activation_bytes(tokens=tokens)
    room = budget - fixed
    if room < per_text + HELD_BYTES:
        raise MemoryBudgetError(
            f"embed: needs about {(fixed + per_text + HELD_BYTES) / MB:,.0f} MB for its model and one text of "
            f"{tokens} tokens over the process's {process / MB:,.0f} MB (budget {budget / MB:,.0f} MB over the "
            "process): raise EMBEDDING_MEMORY_BUDGET_MB"
        )
    largest_batch = min(configured, CHUNK_SIZE)
    chunk = min(CHUNK_SIZE, (room - largest_batch * per_text) // HELD_BYTES)
    batch = largest_batch
    if chunk < largest_batch:
        # Not even a chunk of one full batch fits: both shrink together.
        batch = chunk = min(largest_batch, room // (per_text + HELD_BYTES))
    if limit is not None:
        count = min(count, limit)
    return EmbedPlan(
        budget_bytes=budget,
        process_bytes=process,
        fixed_bytes=fixed,
        load_measured=load_measured,
        tokens=tokens,
        pending=count,
        chunk_size=int(chunk),
        batch_size=int(batch),
        configured_batch=configured,
    )


def embed_plan_logged(*, pending, batch_size: int | None = None, limit: int | None = None) -> EmbedPlan:
    """`embed_plan` at the configured budget, logged (what `manage.py embed` prints)."""
    plan = embed_plan(pending=pending, batch_size=batch_size, limit=limit)
    logger.info("%s (model %s)", plan.describe(), embedding_model_name())
    return plan
