"""Drift scores on the demo data: reference = events before 2011-10-01; checked against the events
after it with the same model, and after re-embedding the catalog with "different models" made from
the bundled weights (CLS pooling; truncation to 8 tokens), then re-embedding back. Prints one row
per (scenario, signal) and writes bench/results/drift_figures.json. Runs on the demo database and
leaves it embedded with the default model. Usage:

    .venv/bin/python bench/drift_figures.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import print_table, write_results  # noqa: E402

CUTOFF = "2011-10-01"
AFTER = ("2011-10-01", "2012-01-01")
BEFORE = ("2010-01-01", "2011-10-01")
VARIANTS = {"cls-pooling": ["--pooling", "cls"], "truncate-8-tokens": ["--pooling", "mean", "--max-seq-length", "8"]}


def manage(*args: str, model: str | None = None) -> None:
    env = {**os.environ}
    env.pop("EMBEDDING_MODEL", None)
    if model:
        env["EMBEDDING_MODEL"] = model
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)


def check(scenario: str, window: tuple[str, str], out: Path, model: str | None = None) -> list[dict]:
    manage("drift", "check", "--start", window[0], "--end", window[1], "--json", str(out), model=model)
    return [{"scenario": scenario, **row} for row in json.loads(out.read_text())]


def main() -> None:
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "check.json"
        manage("embed")
        manage("drift", "reference", "--end", CUTOFF)
        rows += check("same model, after vs before cutoff", AFTER, out)
        for name, options in VARIANTS.items():
            model = str(Path(scratch) / name)
            subprocess.run([sys.executable, "scripts/make_variant_model.py", model, *options], cwd=ROOT, check=True)
            manage("embed", model=model)
            rows += check(f"{name}, after cutoff", AFTER, out, model=model)
            rows += check(f"{name}, reference window", BEFORE, out, model=model)
        manage("embed")
    for row in rows:
        row.pop("model", None)
        row.pop("ks_p", None)
    print_table(rows)
    print("wrote", write_results("drift_figures", rows, {"cutoff": CUTOFF}))


if __name__ == "__main__":
    main()
