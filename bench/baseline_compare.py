"""The home feed of this tree against another commit's, side by side on one database and machine.

Both trees are served by gunicorn (one worker each, one client) from the same database; rounds
alternate between them so drift in the machine's load falls on both. This tree reads the
placement's default strategy on every request (`placements.defaults`); the database holds a
stored default equal to the built-in one, so both trees do the same recommendation work and the
difference is the lookup. Usage:

    RECSITE_VAR_DIR=... .venv/bin/python bench/baseline_compare.py --baseline b714a5a [--rounds 6] [--seconds 5]

The database is the one in the environment (the demo's after `make demo`); the baseline runs
from a temporary git worktree with this tree's virtualenv.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.api_latency import drive, free_port, request_plan, setup_django, start_gunicorn  # noqa: E402
from bench.common import RESULTS, percentile, print_table, write_results  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", required=True, help="the commit to compare with (e.g. the last release)")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()

    from recsite.database import database_url

    url = database_url()
    setup_django(url)
    from accounts.services import api_key_create
    from placements.defaults import default_strategy_save
    from placements.models import DefaultStrategy
    from placements.strategy import Strategy

    created = None
    if not DefaultStrategy.objects.filter(placement="home_feed").exists():
        created = default_strategy_save(
            placement="home_feed", config={"routes": Strategy().routes}, note="baseline_compare"
        )
    api_key, key = api_key_create(name="baseline-compare")
    paths = request_plan(2000)["recommendations"]

    with tempfile.TemporaryDirectory() as scratch:
        baseline_root = Path(scratch) / "baseline"
        subprocess.run(["git", "worktree", "add", "--detach", str(baseline_root), args.baseline], cwd=ROOT, check=True)
        servers = {}
        try:
            for name, root in (("baseline", baseline_root), ("this tree", ROOT)):
                port = free_port()
                servers[name] = (
                    port,
                    start_gunicorn(url, port, 1, log=RESULTS / f"baseline_compare-{port}.log", root=root),
                )
            latencies: dict[str, list[float]] = {name: [] for name in servers}
            for _ in range(args.rounds):
                for name, (port, _) in servers.items():
                    result = drive(port, key, paths, args.seconds, concurrency=1, keep_latencies=True)
                    latencies[name] += result["latencies"]
        finally:
            for _, proc in servers.values():
                proc.terminate()
                proc.wait(timeout=30)
            subprocess.run(["git", "worktree", "remove", "--force", str(baseline_root)], cwd=ROOT, check=False)
            # The database is left as it was found.
            if created is not None:
                created.delete()
            api_key.delete()

    rows = []
    for name, values in latencies.items():
        values.sort()
        rows.append(
            {"tree": name, "requests": len(values), "p50_ms": percentile(values, 50), "p99_ms": percentile(values, 99)}
        )
    base, this = rows
    rows.append(
        {
            "tree": "ratio",
            "requests": 0,
            "p50_ms": this["p50_ms"] / base["p50_ms"],
            "p99_ms": this["p99_ms"] / base["p99_ms"],
        }
    )
    load = os.getloadavg()
    print(f"home feed, 1 worker, 1 client, {args.rounds} alternating rounds of {args.seconds:g} s; load {load[0]:.2f}")
    print_table(rows)
    path = write_results(
        "baseline_compare",
        rows,
        {"baseline": args.baseline, "rounds": args.rounds, "seconds": args.seconds, "load": load},
    )
    print(f"written: {path}")


if __name__ == "__main__":
    main()
