import pytest
from django.utils import timezone

from catalog.models import ItemPopularity
from recommendations.filters import attribute_keys_forget
from recommendations.recall import popularity
from recommendations.rules.active import rules_forget
from tests.factories import CategoryFactory, CustomerFactory, ProductFactory


@pytest.fixture(autouse=True)
def fresh_popularity_cache():
    # The popularity route caches its top list per process; each test has its own catalog.
    popularity._cache.clear()
    yield
    popularity._cache.clear()


@pytest.fixture
def merch_shop(db):
    """Six in-stock products, popularity p1 > p2 > … > p6, odd ones in Kitchen (brand Acme), even
    ones in Garden; customer `alice` has no history, so her feed is the popularity list."""
    popularity._cache.clear()
    rules_forget()
    attribute_keys_forget()
    kitchen = CategoryFactory(name="Kitchen", path="Home > Kitchen")
    garden = CategoryFactory(name="Garden", path="Home > Garden")
    products = {}
    for i in range(1, 7):
        products[f"p{i}"] = ProductFactory(
            external_id=f"p{i}",
            title=f"Item {i}",
            category=kitchen if i % 2 else garden,
            brand="Acme" if i % 2 else "Green",
            attributes={"color": "red" if i <= 3 else "blue"},
        )
        ItemPopularity.objects.create(product=products[f"p{i}"], score=10.0 - i, computed_at=timezone.now())
    CustomerFactory(external_id="alice", attributes={"tier": "vip"})
    yield products
    popularity._cache.clear()
    rules_forget()
    attribute_keys_forget()


@pytest.fixture
def llm_caches_cleared():
    """Popularity and the configured reasons backend are cached per process: each test starts afresh."""
    from recommendations.reasons.backend_choice import _backend

    popularity._cache.clear()
    _backend.cache_clear()
    yield
    popularity._cache.clear()
    _backend.cache_clear()
