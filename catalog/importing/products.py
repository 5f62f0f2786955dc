"""Upsert products from rows: validate, build the category tree, hash the embedded text, write
in bulk, and leave unchanged products untouched (not even their `updated_at`)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction

from catalog.importing import fields
from catalog.importing.fields import FieldError
from catalog.importing.readers import Row
from catalog.importing.report import ImportReport, RowError
from catalog.models import Category, Product
from catalog.text import bidi_strip, product_text, text_hash
from recsite.batching import batched

CHUNK_SIZE = 1000
# The stored (displayed) title; a longer one is cut for display and kept in the description.
MAX_TITLE = 500
MAX_TITLE_INPUT = 50_000
MAX_DESCRIPTION = 100_000
CATEGORY_SEPARATOR = " > "
# The columns an import owns; comparing them decides created / updated / unchanged.
_COMPARED = (
    "title",
    "description",
    "category_id",
    "brand",
    "price",
    "currency",
    "in_stock",
    "attributes",
    "image_url",
    "text_hash",
)
_url_validator = URLValidator()


@dataclass(frozen=True)
class ProductInput:
    external_id: str
    title: str
    description: str = ""
    category_path: str = ""
    brand: str = ""
    price: Decimal | None = None
    currency: str = ""
    in_stock: bool = True
    attributes: dict[str, Any] = field(default_factory=dict)
    image_url: str = ""
    # Stored, but changed on the way: (field, what changed), said per row in the import report.
    warnings: tuple[tuple[str, str], ...] = ()

    @property
    def text_hash(self) -> str:
        return text_hash(
            product_text(
                title=self.title,
                description=self.description,
                category_path=self.category_path,
                brand=self.brand,
                attributes=self.attributes,
            )
        )


BIDI_WARNING = "bidi control characters (U+202A-U+202E, U+2066-U+2069) removed: they can make text display reversed"


def product_input_parse(row: Mapping[str, Any]) -> ProductInput:
    """One interchange row -> ProductInput; raises FieldError naming the first bad field.

    Every column is replaced on import: a column left out means its default (empty), so a file
    describes the products completely and importing it twice is a no-op.
    """
    currency = fields.text(row, "currency", max_length=3).upper()
    if currency and not (len(currency) == 3 and currency.isascii() and currency.isalpha()):
        raise FieldError("currency", f"must be a 3-letter code, got {currency!r}")
    image_url = fields.text(row, "image_url", max_length=1000)
    if image_url:
        try:
            _url_validator(image_url)
        except ValidationError:
            raise FieldError("image_url", f"is not a valid URL: {image_url!r}") from None
    external_id = fields.text(row, "id", max_length=128, required=True)
    if "/" in external_id:
        # The id is one segment of the API's URLs (/api/v1/products/{id}/): with a "/" the
        # product could be stored but never read.
        raise FieldError("id", f"must not contain '/', got {external_id!r}")
    warnings: list[tuple[str, str]] = []
    texts = {}
    for name, max_length in (("title", MAX_TITLE_INPUT), ("description", 100_000), ("category", 1000), ("brand", 200)):
        texts[name], stripped = bidi_strip(fields.text(row, name, max_length=max_length, required=name == "title"))
        if stripped:
            warnings.append((name, BIDI_WARNING))
    if not texts["title"].strip():
        raise FieldError("title", "is required (it held only bidi control characters)")
    title, description, cut = title_fit(title=texts["title"].strip(), description=texts["description"])
    if cut:
        warnings.insert(0, ("title", cut))
    return ProductInput(
        external_id=external_id,
        title=title,
        description=description,
        warnings=tuple(warnings),
        category_path=category_path_normalize(texts["category"]),
        brand=texts["brand"].strip(),
        price=fields.price(row, "price"),
        currency=currency,
        in_stock=fields.boolean(row, "in_stock", default=True),
        attributes=fields.json_object(row, "attributes"),
        image_url=image_url,
    )


def title_fit(*, title: str, description: str) -> tuple[str, str, str | None]:
    """A title longer than the stored `MAX_TITLE` is cut for display at a word boundary (with
    "…"); the full title then opens the description, so it is kept and embedded (the model reads
    the start of the text). Returns the title, the description and the warning, if any."""
    if len(title) <= MAX_TITLE:
        return title, description, None
    cut = title[: MAX_TITLE - 1]
    if " " in cut[MAX_TITLE // 2 :]:
        cut = cut[: cut.rindex(" ")]
    full = title if not description else f"{title}\n{description}"
    warning = f"is {len(title)} characters: shown cut to {len(cut) + 1}, kept whole at the start of the description"
    return cut.rstrip() + "…", full[:MAX_DESCRIPTION], warning


def category_path_normalize(raw: str) -> str:
    """`"Home>Kitchen >  Mugs"` -> `"Home > Kitchen > Mugs"` (empty parts dropped)."""
    parts = [part.strip() for part in raw.split(">") if part.strip()]
    if any(len(part) > 200 for part in parts):
        raise FieldError("category", "has a part longer than 200 characters")
    return CATEGORY_SEPARATOR.join(parts)


def categories_ensure(*, paths: Iterable[str]) -> dict[str, int]:
    """Make sure every path and each of its prefixes exists as a Category; return path -> pk."""
    wanted: set[str] = set()
    for path in paths:
        parts = path.split(CATEGORY_SEPARATOR) if path else []
        wanted.update(CATEGORY_SEPARATOR.join(parts[: i + 1]) for i in range(len(parts)))
    pks = dict(Category.objects.filter(path__in=wanted).values_list("path", "pk"))
    missing = sorted(wanted - pks.keys(), key=lambda p: p.count(CATEGORY_SEPARATOR))
    # Parents before children, one level at a time, so every parent pk is known.
    for depth in sorted({p.count(CATEGORY_SEPARATOR) for p in missing}):
        level = [p for p in missing if p.count(CATEGORY_SEPARATOR) == depth]
        new = []
        for path in level:
            parent_path, _, name = path.rpartition(CATEGORY_SEPARATOR)
            new.append(Category(name=name, path=path, parent_id=pks[parent_path] if parent_path else None))
        # ignore_conflicts: a concurrent import may create the same node; re-read pks below.
        Category.objects.bulk_create(new, ignore_conflicts=True)
        pks.update(Category.objects.filter(path__in=level).values_list("path", "pk"))
    return pks


def products_upsert(*, rows: Iterable[Row] | Iterable[tuple[int, Row]], chunk_size: int = CHUNK_SIZE) -> ImportReport:
    """Validate and upsert products; `rows` are dicts (numbered from 1) or `(line, row)` pairs.

    Products whose columns are all equal to what is stored are counted `unchanged` and not
    written. A product id that appears more than once keeps its last row; each earlier row is
    reported as an error on its own line ("replaced by line N").
    """
    started = time.perf_counter()
    parsed = fields.parse_latest(rows, parse=product_input_parse, key=lambda item: item.external_id)
    errors, latest = parsed.errors, parsed.latest

    category_pks = categories_ensure(paths={item.category_path for _, item in latest.values()})
    created = updated = unchanged = 0
    for chunk in batched((item for _, item in latest.values()), chunk_size):
        c, u, n = _upsert_chunk(chunk, category_pks)
        created, updated, unchanged = created + c, updated + u, unchanged + n
    errors.sort(key=lambda e: e.line)
    warnings = sorted(
        (RowError(line, name, message) for line, item in latest.values() for name, message in item.warnings),
        key=lambda w: w.line,
    )
    return ImportReport(
        received=parsed.received,
        created=created,
        updated=updated,
        unchanged=unchanged,
        errors=errors,
        duration_s=time.perf_counter() - started,
        warnings=warnings,
    )


def _upsert_chunk(chunk: list[ProductInput], category_pks: dict[str, int]) -> tuple[int, int, int]:
    stored = {
        values[0]: values[1:]
        for values in Product.objects.filter(external_id__in=[i.external_id for i in chunk]).values_list(
            "external_id", *_COMPARED
        )
    }
    to_write: list[Product] = []
    created = unchanged = 0
    for item in chunk:
        product = Product(
            external_id=item.external_id,
            title=item.title,
            description=item.description,
            category_id=category_pks.get(item.category_path) if item.category_path else None,
            brand=item.brand,
            price=item.price,
            currency=item.currency,
            in_stock=item.in_stock,
            attributes=item.attributes,
            image_url=item.image_url,
            text_hash=item.text_hash,
        )
        current = stored.get(item.external_id)
        if current is None:
            created += 1
        elif current == tuple(getattr(product, name) for name in _COMPARED):
            unchanged += 1
            continue
        to_write.append(product)
    if to_write:
        with transaction.atomic():
            # One upsert for new and changed rows: a product created meanwhile by another import
            # is updated instead of failing the chunk. auto_now gives written rows a new updated_at.
            Product.objects.bulk_create(
                to_write,
                update_conflicts=True,
                unique_fields=["external_id"],
                update_fields=[*(f for f in _COMPARED if f != "category_id"), "category", "updated_at"],
            )
    return created, len(to_write) - created, unchanged
