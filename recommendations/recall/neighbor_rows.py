"""Writing neighbour tables (item-CF, co-purchase, collaborative) block by block.

A rebuild computes each item's top neighbours a block of item rows at a time; the rows of a block
are written as soon as they are computed, so a rebuild holds one block's rows, never the whole
table (31.6M rows held for one COPY took over 11 GB at 1M products, docs/scale.md).

Rows go through COPY in PostgreSQL's binary format, built by numpy as one packed big-endian record
per row (no Python object per row: formatting 31.6M text lines was most of item-CF's time).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from recommendations.interactions import rank_in_runs

# COPY BINARY's stream header (signature, flags, header extension length) and trailer.
COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
COPY_TRAILER = (-1).to_bytes(2, "big", signed=True)
# Binary widths of the columns' PostgreSQL types.
INT_TYPES = {"int2": ">i2", "int4": ">i4", "int8": ">i8"}


@dataclass(frozen=True)
class NeighborBlock:
    """Neighbour rows of some items, as item indices: `rows[i]`'s neighbour `cols[i]` with `scores[i]`."""

    rows: np.ndarray
    cols: np.ndarray
    scores: np.ndarray


@dataclass(frozen=True)
class NeighborTable:
    """Where neighbour rows go: the table, and the PostgreSQL types of its rank (and model id,
    when each row carries the model version it belongs to)."""

    name: str
    rank_type: str
    model_id: int | None = None

    @property
    def columns(self) -> str:
        return ("(model_id, " if self.model_id is not None else "(") + "product_id, neighbor_id, score, rank)"


def blocks_matrix(*, blocks: Iterable[NeighborBlock], n_items: int) -> sp.csr_matrix:
    """Every block's rows as one items × items matrix (row = item, columns = its neighbours): the
    in-memory form the offline evaluation scores with."""
    parts = list(blocks)
    if not parts:
        return sp.csr_matrix((n_items, n_items))
    rows, cols, scores = (np.concatenate([getattr(p, name) for p in parts]) for name in ("rows", "cols", "scores"))
    return sp.csr_matrix((scores, (rows, cols)), shape=(n_items, n_items))


def ranked(block: NeighborBlock) -> tuple[NeighborBlock, np.ndarray]:
    """The block sorted by item, best neighbour first (ties: the lower neighbour index), and each
    row's rank (1 = the item's strongest). A block holds every neighbour of its items."""
    order = np.lexsort((block.cols, -block.scores, block.rows))
    block = NeighborBlock(rows=block.rows[order], cols=block.cols[order], scores=block.scores[order])
    return block, rank_in_runs(block.rows) + 1


def binary_records(*, table: NeighborTable, block: NeighborBlock, product_pks: np.ndarray) -> bytes:
    """One COPY BINARY record per neighbour row of `block` (header and trailer not included)."""
    block, ranks = ranked(block)
    fields: list[tuple[str, str, np.ndarray]] = []
    if table.model_id is not None:
        fields.append(("model", ">i8", np.full(len(ranks), table.model_id, dtype=np.int64)))
    fields += [
        ("product", ">i8", product_pks[block.rows]),
        ("neighbor", ">i8", product_pks[block.cols]),
        ("score", ">f8", block.scores),
        ("rank", INT_TYPES[table.rank_type], ranks),
    ]
    # Each record: its field count, then per field its byte length and value (network byte order).
    layout = [("count", ">i2")]
    for name, kind, _ in fields:
        layout += [(f"{name}_length", ">i4"), (name, kind)]
    records = np.empty(len(ranks), dtype=np.dtype(layout))
    records["count"] = len(fields)
    for name, kind, values in fields:
        records[f"{name}_length"] = np.dtype(kind).itemsize
        records[name] = values
    return records.tobytes()


def neighbor_rows_write(
    *, cursor, table: NeighborTable, blocks: Iterable[NeighborBlock], product_pks: np.ndarray
) -> int:
    """Write every block's rows into `table` through one COPY, each block as soon as it comes (so
    only one block is held); `cursor` is a Django cursor in the caller's transaction. Returns the
    number of rows written."""
    written = 0
    with cursor.cursor.copy(f"COPY {table.name} {table.columns} FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(COPY_HEADER)
        for block in blocks:
            copy.write(binary_records(table=table, block=block, product_pks=product_pks))
            written += len(block.rows)
        copy.write(COPY_TRAILER)
    return written
