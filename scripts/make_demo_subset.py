"""Build data/online-retail/online_retail_subset.csv.gz from the full UCI Online Retail file.

A seeded random sample of customers with every one of their rows (guest rows, having no
customer, are left out), in the original columns and order, so `load_demo` works on a fresh
machine without ../shared. Run: .venv/bin/python scripts/make_demo_subset.py [--customers N]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import random
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FULL_FILE = REPO.parent / "shared/datasets/online-retail/online_retail_2010-12_2011-12.csv.gz"
SUBSET_FILE = REPO / "data/online-retail/online_retail_subset.csv.gz"


def subset_write(*, source: Path, target: Path, customers: int, seed: int) -> tuple[int, int]:
    """Write the rows of `customers` randomly chosen customers; returns (customers, rows)."""
    with gzip.open(source, "rt", encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        customer_col = header.index("CustomerID")
        rows = [row for row in reader if row[customer_col].strip()]
    all_customers = sorted({row[customer_col] for row in rows})
    chosen = set(random.Random(seed).sample(all_customers, min(customers, len(all_customers))))
    kept = [row for row in rows if row[customer_col] in chosen]
    target.parent.mkdir(parents=True, exist_ok=True)
    # mtime=0: the same input gives a byte-identical file (no spurious diffs on rebuild).
    with open(target, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as zipped:
        with io.TextIOWrapper(zipped, encoding="utf-8", newline="") as text:
            writer = csv.writer(text, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(kept)
    return len(chosen), len(kept)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=FULL_FILE)
    parser.add_argument("--target", type=Path, default=SUBSET_FILE)
    parser.add_argument("--customers", type=int, default=900)
    parser.add_argument("--seed", type=int, default=352)
    args = parser.parse_args()
    customers, rows = subset_write(source=args.source, target=args.target, customers=args.customers, seed=args.seed)
    size_kb = args.target.stat().st_size / 1024
    print(f"wrote {args.target}: {customers} customers, {rows} rows, {size_kb:.0f} KiB")


if __name__ == "__main__":
    main()
