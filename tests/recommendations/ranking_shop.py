"""A small shop with a temporal pattern, shared by the ranking tests."""

import datetime as dt

import numpy as np

from catalog.models import EventType, ItemPopularity, ProductEmbedding
from tests.factories import CustomerFactory, EventFactory, ProductFactory

T = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
DIM = 384


def ranking_shop():
    """Six products priced 1..6 (four embedded); twelve customers, each buying item c at T-40-c
    days, item c+1 at T-3-c days and item c+2 at T+2 days (indices mod 6). Popularity: P0 > … > P5."""
    products = [ProductFactory(external_id=f"P{i}", price=f"{i + 1}.00") for i in range(6)]
    for i, product in enumerate(products[:4]):
        vector = np.zeros(DIM, dtype=np.float32)
        vector[i % 2] = 1.0
        vector[2 + i] = 0.5
        ProductEmbedding.objects.create(product=product, model_name="hand-made", text_hash="x", vector=vector)
        ItemPopularity.objects.create(product=product, score=10.0 - i, computed_at=T)
    for i, product in enumerate(products[4:], start=4):
        ItemPopularity.objects.create(product=product, score=10.0 - i, computed_at=T)
    for c in range(12):
        customer = CustomerFactory(external_id=f"C{c}")
        for offset, days in [(0, -40 - c), (1, -3 - c), (2, 2)]:
            EventFactory(
                customer=customer,
                product=products[(c + offset) % 6],
                type=EventType.PURCHASE,
                timestamp=T + dt.timedelta(days=days),
            )
    return products
