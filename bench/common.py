"""Shared by the benchmarks: machine description, percentiles, a printed table, JSON results."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def django_setup() -> None:
    """Set up Django without connecting: the ranking and evaluation code reads the strategy and
    placement types of Django apps (a bench on arrays needs no database)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "recsite.settings")
    import django  # noqa: PLC0415 - only the benches that need it pay for it

    django.setup()


def machine() -> dict:
    cpu = ""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor()
    return {"cpus": os.cpu_count(), "cpu": cpu, "platform": platform.platform(), "python": platform.python_version()}


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile of an already sorted list (0.0 when empty)."""
    if not sorted_values:
        return 0.0
    rank = max(1, round(pct / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def print_table(rows: list[dict]) -> None:
    if not rows:
        return
    # Every row's columns, in the order they first appear: rows of one table may differ in theirs.
    columns = list(dict.fromkeys(column for row in rows for column in row))
    cells = [[f"{r.get(c):.2f}" if isinstance(r.get(c), float) else str(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))


def write_results(name: str, rows: list[dict], meta: dict) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {"benchmark": name, "at": dt.datetime.now(dt.UTC).isoformat(), "machine": machine(), **meta}
    path.write_text(json.dumps({**payload, "rows": rows}, indent=2))
    return path


def drill_report(name: str, rows: list[dict], summary: dict, args: object) -> None:
    """A drill's ending: its table, its summary lines and the machine's load, and the JSON."""
    print_table(rows)
    print()
    for key, value in summary.items():
        print(f"{key}: {value}")
    load = os.getloadavg()
    print(f"load average: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print("wrote", write_results(name, rows, {"args": vars(args), "summary": summary, "loadavg": load}))
