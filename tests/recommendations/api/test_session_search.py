"""The shopper's session on search (typo correction, personalisation) and on similar items."""

import datetime as dt

import pytest
from django.utils import timezone

from catalog.models import EventType, ItemNeighbor, ProductEmbedding
from catalog.public import search_vocabulary_refresh
from recommendations.embeddings.model import encode_texts
from tests.factories import EventFactory, ProductFactory

pytestmark = pytest.mark.django_db

SEARCH = "/api/v1/search/"


@pytest.fixture
def catalog():
    rows = [
        ("85123A", "red ceramic coffee mug", "Acme"),
        ("85123B", "blue ceramic tea cup", "Acme"),
        ("85123C", "ceramic garden plant pot", "Globex"),
        ("22423", "garden shovel with wooden handle", "Globex"),
    ]
    products = {sku: ProductFactory(external_id=sku, title=title, brand=brand) for sku, title, brand in rows}
    texts = [p.embedding_text() for p in products.values()]
    for product, vector in zip(products.values(), encode_texts(texts), strict=True):
        ProductEmbedding.objects.create(product=product, model_name="real", text_hash=product.text_hash, vector=vector)
    search_vocabulary_refresh()
    return products


def _view(session: str, product, minutes_ago: int = 1, kind: str = EventType.VIEW) -> None:
    EventFactory(
        customer=None,
        session_id=session,
        product=product,
        type=kind,
        timestamp=timezone.now() - dt.timedelta(minutes=minutes_ago),
    )


def _ids(body: dict) -> list[str]:
    return [item["id"] for item in body["items"]]


def test_a_typo_is_corrected_and_the_answer_says_so(storefront_client, catalog):
    body = storefront_client.get(SEARCH, {"q": "cerammic tea", "k": 3}).json()

    assert body["corrected"] == "ceramic tea"
    assert body["query"] == "cerammic tea"
    assert _ids(body)[0] == "85123B"


def test_a_query_without_typos_says_none_was_corrected(storefront_client, catalog):
    body = storefront_client.get(SEARCH, {"q": "ceramic", "k": 3}).json()

    assert (body["corrected"], body["personalized"], body["session"]) == (None, False, None)


def test_a_sessions_history_re_ranks_the_matches_unless_turned_off(storefront_client, catalog):
    # given: the order of `ceramic`'s matches for an anonymous shopper; a session that viewed the
    # third of them
    plain = _ids(storefront_client.get(SEARCH, {"q": "ceramic", "k": 3}).json())
    _view("s-1", catalog[plain[2]])

    personal = storefront_client.get(SEARCH, {"q": "ceramic", "k": 3, "session": "s-1"}).json()
    off = storefront_client.get(SEARCH, {"q": "ceramic", "k": 3, "session": "s-1", "personalize": "false"}).json()

    assert (personal["personalized"], _ids(personal)[0]) == (True, plain[2])
    assert "personal" in personal["items"][0]["routes"]
    assert (off["personalized"], _ids(off)) == (False, plain)


def test_an_exact_sku_stays_first_whatever_the_history(storefront_client, catalog):
    _view("s-1", catalog["22423"])

    body = storefront_client.get(SEARCH, {"q": "85123a", "k": 3, "session": "s-1"}).json()

    assert body["personalized"] is True
    assert _ids(body)[0] == "85123A"


def test_similar_items_leave_out_what_the_session_has_in_its_cart(storefront_client, catalog):
    for neighbor, score in (("85123B", 0.9), ("85123C", 0.5)):
        ItemNeighbor.objects.create(product=catalog["85123A"], neighbor=catalog[neighbor], score=score, rank=1)
    _view("s-1", catalog["85123B"], kind=EventType.ADD_TO_CART)

    anonymous = storefront_client.get("/api/v1/products/85123A/similar/", {"k": 3}).json()
    carted = storefront_client.get("/api/v1/products/85123A/similar/", {"k": 3, "session": "s-1"}).json()

    assert "85123B" in _ids(anonymous)
    assert carted["session"] == "s-1"
    assert "85123B" not in _ids(carted)
    assert "85123C" in _ids(carted)


@pytest.mark.parametrize(
    ("url", "query"),
    [
        (SEARCH, {"q": "mug", "personalize": "maybe"}),
        (SEARCH, {"q": "mug", "session": "s" * 129}),
        ("/api/v1/products/85123A/similar/", {"session": "s" * 129}),
        ("/api/v1/bought-together/", {"products": "85123A", "session": "s" * 129}),
    ],
)
def test_a_bad_session_or_personalize_is_a_400_naming_it(storefront_client, url, query):
    answer = storefront_client.get(url, query)

    assert answer.status_code == 400
    assert set(answer.json()["error"]["fields"]) & {"session", "personalize"}


def test_a_session_another_customer_holds_is_a_409_on_search(storefront_client, catalog):
    storefront_client.get(SEARCH, {"q": "mug", "session": "s-9", "customer": "c1"})

    answer = storefront_client.get(SEARCH, {"q": "mug", "session": "s-9", "customer": "c2"})

    assert answer.status_code == 409
