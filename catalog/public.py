"""What other apps use of the catalog: its models, the product text that is embedded, the import
field parsers (the simulator and the API reuse them), category-path filters, the clicks signal,
customers (read, erase), the products' attribute keys, and whether the catalog changed (its
generation)."""

from catalog.api.parsers import JSONBodyParser
from catalog.categories import PATH_SEPARATOR, category_subtree_like, category_subtree_q
from catalog.customers import CatalogErasure, customer_erase, customer_get, product_attribute_keys
from catalog.generation import (
    CatalogState,
    CatalogStateResting,
    catalog_state,
    catalog_state_forget,
    catalog_state_or_none,
)
from catalog.importing.fields import FieldError, number, text, timestamp
from catalog.importing.products import category_path_normalize
from catalog.importing.readers import BadLine, read_rows
from catalog.models import Customer, Event, EventType, ItemNeighbor, ItemPopularity, Product, ProductEmbedding
from catalog.search_index import search_index_merge_pending
from catalog.sessions import SESSION_MAX_LENGTH, SessionClaimed, session_link
from catalog.signals import clicks_stored, events_stored
from catalog.text import product_text, text_hash
from catalog.vocabulary import search_vocabulary_refresh, search_vocabulary_sql

__all__ = [
    "PATH_SEPARATOR",
    "category_subtree_like",
    "category_subtree_q",
    "SESSION_MAX_LENGTH",
    "BadLine",
    "SessionClaimed",
    "session_link",
    "CatalogErasure",
    "CatalogState",
    "CatalogStateResting",
    "catalog_state_or_none",
    "catalog_state",
    "catalog_state_forget",
    "Customer",
    "Event",
    "EventType",
    "FieldError",
    "ItemNeighbor",
    "ItemPopularity",
    "JSONBodyParser",
    "Product",
    "ProductEmbedding",
    "category_path_normalize",
    "clicks_stored",
    "events_stored",
    "customer_erase",
    "customer_get",
    "number",
    "product_attribute_keys",
    "product_text",
    "read_rows",
    "search_index_merge_pending",
    "search_vocabulary_refresh",
    "search_vocabulary_sql",
    "text",
    "text_hash",
    "timestamp",
]
