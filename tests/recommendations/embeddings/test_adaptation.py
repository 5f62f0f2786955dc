"""Domain adaptation: pairs from co-occurrence, fine-tuning the real model moves pairs together,
versions stored with their model directory, the task on the gpu queue."""

import numpy as np
import pytest
from django.conf import settings
from django.core.management import call_command

from recommendations.contracts import Interactions
from recommendations.embeddings.adaptation import adapt_model, cooccurrence_pairs, encode
from recommendations.embeddings.model import DEFAULT_MODEL_NAME, model_location
from recommendations.models import EmbeddingAdaptation
from tests.factories import CustomerFactory, EventFactory, ProductFactory

TEXTS = ["Porcelain teapot", "Knitted tea cosy", "Garden hose 20 m", "USB-C charging cable"]


def test_pairs_are_each_items_strongest_co_bought_neighbours_once():
    # items 0 and 1 bought together by three customers, 2 and 3 by two, 0 and 2 by one
    baskets = [(0, 1), (0, 1), (0, 1), (2, 3), (2, 3), (0, 2)]
    users = np.repeat(np.arange(len(baskets)), 2)
    items = np.array([item for basket in baskets for item in basket])
    events = Interactions(
        users=users,
        items=items,
        weights=np.ones(len(users)),
        timestamps=np.zeros(len(users)),
        positive=np.ones(len(users), dtype=bool),
        n_users=len(baskets),
        n_items=4,
    )
    pairs = cooccurrence_pairs(interactions=events, per_item=1)
    assert {tuple(pair) for pair in pairs.tolist()} == {(0, 1), (2, 3)}


def test_fine_tuning_the_real_model_brings_a_pair_closer():
    location = model_location(DEFAULT_MODEL_NAME)
    from sentence_transformers import SentenceTransformer

    before = encode(SentenceTransformer(location, device="cpu", local_files_only=True), TEXTS)
    model, report = adapt_model(
        texts=TEXTS, pairs=np.array([[0, 2], [1, 3]]), location=location, device="cpu", epochs=8, learning_rate=1e-4
    )
    after = encode(model, TEXTS)

    # the teapot is taught to go with the hose (a pairing no language model would guess)
    assert after[0] @ after[2] > before[0] @ before[2] + 0.05
    assert report.steps == 8 and report.last_loss < report.first_loss


@pytest.mark.django_db
def test_the_command_stores_a_version_with_its_model(tmp_path, monkeypatch):
    monkeypatch.setattr(settings, "VAR_DIR", tmp_path)
    products = [ProductFactory(title=title) for title in TEXTS]
    for basket in [(0, 1), (0, 1), (2, 3), (2, 3)]:
        customer = CustomerFactory()
        for item in basket:
            EventFactory(customer=customer, product=products[item], type="purchase")

    call_command("adapt_embeddings", "--max-pairs", "10")

    adapted = EmbeddingAdaptation.objects.get()
    assert (adapted.version, adapted.pairs, adapted.device) == (1, 2, "cpu")
    assert (tmp_path / "models" / "adapted-v1" / "config.json").exists()
    assert adapted.path == str(tmp_path / "models" / "adapted-v1")


def test_adaptation_is_routed_to_the_gpu_queue():
    assert settings.CELERY_TASK_ROUTES["recommendations.tasks.adapt_embeddings"] == {"queue": "gpu"}
