"""The slow-query log in bench runs (recsite.slow_queries): the environment that turns it on for a
server or worker, and a summary of what it caught. Usage in a bench:

    env = slow_query_env(RESULTS / "mybench-slow-queries.log")
    server = start_gunicorn(database_url, port, workers, extra_env=env)
    ...
    summary = slow_query_summary(RESULTS / "mybench-slow-queries.log")
    print_slow_queries(summary)  # and put `summary` into the JSON results
"""

from __future__ import annotations

import json
from pathlib import Path

from bench.common import print_table

THRESHOLD_MS = 100.0
SQL_SHOWN_CHARS = 100


def slow_query_env(log: Path, threshold_ms: float = THRESHOLD_MS) -> dict[str, str]:
    """Environment that makes a process log its queries over `threshold_ms` to `log`. The file is
    emptied here, so it holds this run's queries only (processes append to it)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    return {"SLOW_QUERY_LOG_MS": str(threshold_ms), "SLOW_QUERY_LOG_FILE": str(log)}


def slow_query_summary(log: Path, top: int = 5) -> dict:
    """How many slow queries `log` holds, how many per request/task, and the slowest `top`."""
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()] if log.exists() else []
    by_source: dict[str, int] = {}
    for line in lines:
        by_source[line["source"]] = by_source.get(line["source"], 0) + 1
    slowest = sorted(lines, key=lambda line: -line["ms"])[:top]
    return {
        "log": str(log),
        "count": len(lines),
        "by_source": dict(sorted(by_source.items(), key=lambda item: -item[1])),
        "slowest": [
            {"ms": line["ms"], "source": line["source"], "error": line["error"], "sql": line["sql"][:SQL_SHOWN_CHARS]}
            for line in slowest
        ],
    }


def print_slow_queries(summary: dict) -> None:
    print(f"slow queries (over the threshold): {summary['count']}  ({summary['log']})")
    print_table(summary["slowest"])
