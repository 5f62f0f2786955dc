"""`embed`'s memory budget, on what the job adds to its process: within it the chunk and batch
shrink to fit and every product is still embedded, however much the process held before; when the
model plus one text does not fit, a clear refusal before anything is written."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from catalog.models import ProductEmbedding
from recommendations.embeddings.budget import (
    CHUNK_SIZE,
    HELD_BYTES,
    TEXT_OVERHEAD_TOKENS,
    activation_bytes,
    embed_plan,
    encoder_bytes,
    longest_text_tokens,
)
from recommendations.embeddings.model import active_encoder, encoder_max_tokens, encoder_weight_bytes
from recommendations.embeddings.service import embed_products, products_to_embed
from recsite.memory import MB, MemoryBudgetError, rss_mb
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db

PRODUCTS = 7
# What a gpu worker's reason model holds in fp32, about: more than the default budget.
HELD_ELSEWHERE_BYTES = 5 * 2**29


@pytest.fixture
def seven_products():
    return [ProductFactory(title=f"ceramic mug number {i}") for i in range(PRODUCTS)]


def test_the_longest_text_bounds_the_tokens_up_to_what_the_encoder_reads():
    ProductFactory(title="a" * 40)
    # the title's 40 bytes, the empty attributes' 2 ("{}"), the labels
    assert longest_text_tokens(pending=products_to_embed()) == 40 + 2 + TEXT_OVERHEAD_TOKENS
    ProductFactory(title="mug", description="long words " * 500)
    assert longest_text_tokens(pending=products_to_embed()) == encoder_max_tokens()
    assert activation_bytes(tokens=256) > 4 * activation_bytes(tokens=64)


@pytest.fixture
def held_elsewhere():
    """2.5 GiB this process holds for the test's length, every page written so it is resident."""
    return np.ones(HELD_ELSEWHERE_BYTES // 8)


def test_an_encoder_loaded_before_counts_as_its_weights():
    active_encoder()
    size, load_measured = encoder_bytes()
    # all-MiniLM-L6-v2's 22.7 M float32 parameters alone are 87 MB
    assert (size, load_measured) == (encoder_weight_bytes(), False) and size > 80 * MB


def test_under_a_small_budget_embed_shrinks_its_chunk_and_still_embeds_every_product(seven_products):
    # given the encoder loaded (so that both plans count it alike, as its weights) and a budget that
    # holds it and about three texts at once
    active_encoder()
    full = embed_plan(pending=products_to_embed(), budget_mb=10**6)
    assert (full.chunk_size, full.pending) == (CHUNK_SIZE, PRODUCTS)
    budget_mb = math.ceil((full.fixed_bytes + 3 * (full.text_bytes + HELD_BYTES)) / MB)

    # when it plans and runs under it
    plan = embed_plan(pending=products_to_embed(), budget_mb=budget_mb)
    done: list[int] = []
    report = embed_products(plan=plan, progress=done.append)

    # then the chunk (and the batch with it) shrank, and every product was embedded chunk by chunk
    assert 1 <= plan.batch_size == plan.chunk_size < PRODUCTS and plan.estimate_bytes <= budget_mb * MB
    assert "to fit (at most 2,048 and 128)" in plan.describe()
    assert report.embedded == PRODUCTS == ProductEmbedding.objects.count()
    assert len(done) > 1 and max(done) == plan.chunk_size and report.chunk_size == plan.chunk_size


def test_the_command_prints_its_plan_and_peak_under_a_budget(seven_products):
    out = io.StringIO()
    call_command("embed", memory_budget_mb=10**5, stdout=out, verbosity=0)
    plan, _, peak = out.getvalue().splitlines()
    assert plan.startswith("embed: estimated peak ") and f"for {PRODUCTS} products" in plan
    assert "(budget 100,000 MB over the process): chunks of 2,048, batches of 128" in plan
    assert peak.startswith("peak memory ") and "(estimated " in peak
    assert ProductEmbedding.objects.count() == PRODUCTS


def test_under_the_model_and_one_text_embed_refuses_and_writes_nothing(seven_products):
    with pytest.raises(
        CommandError,
        match=r"embed: needs about .* MB for its model and one text of \d+ tokens over the process's .* MB "
        r"\(budget 1 MB over the process\): raise EMBEDDING_MEMORY_BUDGET_MB",
    ):
        call_command("embed", memory_budget_mb=1, stdout=io.StringIO())
    # the task's path, with the setting: the same refusal
    with override_settings(EMBEDDING_MEMORY_BUDGET_MB=1), pytest.raises(MemoryBudgetError):
        embed_products()
    assert not ProductEmbedding.objects.exists()


def test_a_process_holding_more_than_the_budget_still_embeds_under_the_default_budget(seven_products, held_elsewhere):
    # given a process that holds more than the default budget besides, as a gpu worker holds its
    # reason model
    assert rss_mb() * MB > HELD_ELSEWHERE_BYTES > settings.EMBEDDING_MEMORY_BUDGET_MB * MB

    # when it plans under the default budget, and embeds as the task does
    plan = embed_plan(pending=products_to_embed())
    report = embed_products()

    # then the plan counts what embedding adds, not what the process held: at full sizes, all embedded
    assert plan.process_bytes > HELD_ELSEWHERE_BYTES > plan.fixed_bytes
    assert plan.estimate_bytes <= plan.budget_bytes
    assert (plan.chunk_size, plan.batch_size) == (CHUNK_SIZE, settings.EMBEDDING_BATCH_SIZE)
    assert report.embedded == PRODUCTS == ProductEmbedding.objects.count()
