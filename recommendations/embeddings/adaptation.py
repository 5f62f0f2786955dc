"""Domain adaptation of the sentence model: contrastive fine-tuning on the shop's own pairs.

A general sentence model knows that "RED MUG" is like "BLUE MUG"; it does not know that this
shop's customers buy a teapot with its cosy. The pairs are each item and its strongest item-CF
neighbours (items bought by the same customers, `itemcf_similarity`); the loss is the in-batch
contrastive one of Henderson et al. 2017 / van den Oord et al. 2018 (multiple-negatives ranking):
each item's text must be closer to its partner's than to every other text of the batch, both
ways. One epoch with a small learning rate moves the model towards the shop without forgetting
language.

`cooccurrence_pairs` and `adapt_model` are pure (arrays and a model path in, a model out; the
offline measurement in `bench/adaptation.py` fits on training events only); `embedding_adapt`
fits on every stored event and stores a new `EmbeddingAdaptation` version with its model
directory. Serving one: set `EMBEDDING_MODEL` to its directory and run `manage.py embed` (the
catalog is re-embedded because the model's name changed, the query encoder follows).

Cost: a forward and backward pass of MiniLM per pair; on cuda in bf16 autocast. Measured in
docs/ranking.md.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from django.conf import settings
from django.db import transaction
from django.db.models import Max

from catalog.public import Product
from recommendations.contracts import Interactions
from recommendations.embeddings.model import embedding_model_name, model_location, pick_device, unit_rows
from recommendations.interactions import interaction_matrix, interactions_load, rank_in_runs
from recommendations.models import EmbeddingAdaptation
from recommendations.recall.itemcf import itemcf_similarity

logger = logging.getLogger(__name__)

PAIRS_PER_ITEM = 3
MAX_PAIRS = 50_000
EPOCHS = 1
BATCH_SIZE = 64
LEARNING_RATE = 2e-5
# The softmax temperature's inverse on cosine similarities (sentence-transformers' default scale).
SCALE = 20.0
SEED = 42


@dataclass(frozen=True)
class AdaptationReport:
    pairs: int
    steps: int
    first_loss: float
    last_loss: float
    seconds: float
    device: str


def cooccurrence_pairs(
    *, interactions: Interactions, per_item: int = PAIRS_PER_ITEM, max_pairs: int = MAX_PAIRS, seed: int = SEED
) -> np.ndarray:
    """(pairs × 2) item indices: each item with its `per_item` strongest item-CF neighbours, each
    unordered pair once, at most `max_pairs` of them (drawn at random, seeded)."""
    similarity = sp.coo_matrix(itemcf_similarity(matrix=interaction_matrix(interactions=interactions)))
    order = np.lexsort((similarity.col, -similarity.data, similarity.row))
    rows, cols = similarity.row[order], similarity.col[order]
    top = rank_in_runs(rows) < per_item
    pairs = np.unique(np.sort(np.stack([rows[top], cols[top]], axis=1), axis=1), axis=0)
    if len(pairs) > max_pairs:
        pairs = pairs[np.sort(np.random.default_rng(seed).choice(len(pairs), size=max_pairs, replace=False))]
    return pairs.astype(np.int64)


def adapt_model(
    *,
    texts: list[str],
    pairs: np.ndarray,
    location: str,
    device: str,
    epochs: int = EPOCHS,
    batch_size: int = BATCH_SIZE,
    learning_rate: float = LEARNING_RATE,
    seed: int = SEED,
):
    """The model at `location` fine-tuned on `pairs` of `texts`; returns (model, AdaptationReport)."""
    import torch  # noqa: PLC0415 - torch: heavy, loaded by the worker that adapts the model only
    import torch.nn.functional as F  # noqa: PLC0415 - torch: heavy, loaded by the worker that adapts the model only
    from sentence_transformers import SentenceTransformer  # noqa: PLC0415 - sentence_transformers: heavy, loaded by the adapting worker only

    started = time.perf_counter()
    torch.manual_seed(seed)
    model = SentenceTransformer(location, device=device, local_files_only=True)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate)
    rng = np.random.default_rng(seed)
    on_gpu = device.startswith("cuda")
    losses: list[float] = []
    for _ in range(epochs):
        order = rng.permutation(len(pairs))
        for start in range(0, len(order), batch_size):
            batch = pairs[order[start : start + batch_size]]
            if len(batch) < 2:
                continue
            features = model.preprocess([texts[i] for i in batch[:, 0]] + [texts[j] for j in batch[:, 1]])
            features = {key: value.to(device) if hasattr(value, "to") else value for key, value in features.items()}
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=on_gpu):
                embeddings = model(features)["sentence_embedding"]
            embeddings = F.normalize(embeddings.float(), dim=1)
            left, right = embeddings[: len(batch)], embeddings[len(batch) :]
            logits = left @ right.T * SCALE
            labels = torch.arange(len(batch), device=logits.device)
            loss = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(float(loss.detach()))
    model.eval()
    # Mean loss of the first and the last steps (ten, or half the run when shorter).
    window = max(1, min(10, len(losses) // 2))
    report = AdaptationReport(
        pairs=len(pairs),
        steps=len(losses),
        first_loss=round(float(np.mean(losses[:window])), 4) if losses else 0.0,
        last_loss=round(float(np.mean(losses[-window:])), 4) if losses else 0.0,
        seconds=round(time.perf_counter() - started, 1),
        device=device,
    )
    return model, report


def encode(model, texts: list[str], *, batch_size: int = 128) -> np.ndarray:
    """Unit-length float32 embeddings of `texts` with `model` (torch)."""
    return unit_rows(model.encode(texts, batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False))


def embedding_adapt(*, max_pairs: int = MAX_PAIRS, epochs: int = EPOCHS):
    """Fine-tune the configured model on every stored event's pairs and store a new version.

    Returns the `EmbeddingAdaptation`; its model directory is under `VAR_DIR/models/`.
    """
    interactions, product_pks = interactions_load()
    products = Product.objects.select_related("category").order_by("pk")
    texts = [product.embedding_text() for product in products.iterator(chunk_size=2000)]
    if len(texts) != len(product_pks):
        raise ValueError("the catalog changed while it was read; run again")
    pairs = cooccurrence_pairs(interactions=interactions, max_pairs=max_pairs)
    if len(pairs) < 2:
        raise ValueError("too few co-occurring items to adapt the model on")
    base = embedding_model_name()
    model, report = adapt_model(
        texts=texts, pairs=pairs, location=model_location(base), device=pick_device(), epochs=epochs
    )
    with transaction.atomic():
        latest = EmbeddingAdaptation.objects.select_for_update().aggregate(v=Max("version"))["v"]
        version = (latest or 0) + 1
        directory = settings.VAR_DIR / "models" / f"adapted-v{version}"
        directory.parent.mkdir(parents=True, exist_ok=True)
        model.save(str(directory))
        return EmbeddingAdaptation.objects.create(
            version=version,
            base_model=base,
            path=str(directory),
            pairs=report.pairs,
            steps=report.steps,
            first_loss=report.first_loss,
            last_loss=report.last_loss,
            training_seconds=report.seconds,
            device=report.device,
        )
