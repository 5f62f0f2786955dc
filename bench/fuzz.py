"""Long schema fuzzing run: schemathesis (its CLI, every phase: examples, coverage, fuzzing,
stateful) against gunicorn serving a fresh copy of the demo database, with a storefront key that
holds every scope. Reports per operation the requests sent (every HTTP call schemathesis made,
whatever phase, check or probe made it: the CLI runs in a child process whose HTTP sends are
counted), their status classes and 5xx, the responses that break the schema and the other failed
checks; table + JSON.

The checks are those of CI (tests/recsite/test_api_schemathesis.py), which runs the same schema in-process
with 25 examples per operation. Usage:

    .venv/bin/python bench/fuzz.py [--examples 500] [--seed 1] [--workers 2]
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.api_latency import free_port, setup_django, start_gunicorn  # noqa: E402
from bench.common import RESULTS, print_table, write_results  # noqa: E402
from bench.slow_queries import print_slow_queries, slow_query_env, slow_query_summary  # noqa: E402

FUZZ_DB = "recsite_fuzz"
FUZZ_REDIS = "redis://127.0.0.1:6379/10"
# Failed checks that mean "the response is not what the schema documents".
SCHEMA_CHECKS = {
    "response_schema_conformance",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
}
# As in CI (tests/recsite/test_api_schemathesis.py, which says why): a schema-valid request may get a 400
# (validation goes beyond the schema), and batch writes keep their valid rows (207).
CONFIG = """\
# No crash cache under the working directory: every run starts from its seed alone.
[cache]
enabled = false

[checks]
positive_data_acceptance.enabled = false
# gunicorn refuses a request line over its limit with 414 (documented) before the API: a rejection.
negative_data_rejection.expected-statuses = [
    "400", "401", "403", "404", "405", "406", "409", "414", "415", "422", "428", "429", "5xx",
]

[[operations]]
include-path = "/api/v1/events/"
include-method = "POST"
checks.negative_data_rejection.enabled = false

[[operations]]
include-path = "/api/v1/products/"
include-method = "POST"
checks.negative_data_rejection.enabled = false
"""


def fresh_demo_copy(name: str) -> str:
    """A new copy of the demo database (dropped first: every run starts from the same data)."""
    import psycopg

    from recsite.database import EMBEDDED_DB_NAME, embedded_database_url

    with psycopg.connect(embedded_database_url(database="postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{EMBEDDED_DB_NAME}"')
    return embedded_database_url(database=name)


def fetch_schema(port: int) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", "/api/schema/?format=json")
    response = conn.getresponse()
    body = response.read()
    if response.status != 200:
        raise RuntimeError(f"schema: HTTP {response.status}")
    return json.loads(body)


Templates = list[tuple[re.Pattern, str, set[str]]]


def operation_of(method: str, path: str, templates: Templates) -> str:
    """'GET /api/v1/products/{product_id}/' for a request; methods the schema does not list for
    the path are one row per path, and a path it lacks is kept as sent."""
    for pattern, template, methods in templates:
        if pattern.fullmatch(path):
            return f"{method} {template}" if method.lower() in methods else f"{template} (other methods)"
    return f"{method} {path} (no such path)"


def path_patterns(schema: dict) -> Templates:
    """Per path template: a regex (a parameter is one percent-encoded segment, no `/`) and its methods."""
    patterns = []
    for template, item in schema["paths"].items():
        regex = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        patterns.append((re.compile(regex), template, set(item)))
    # Literal paths before templated ones.
    return sorted(patterns, key=lambda p: p[1].count("{"))


def counted_schemathesis(counts_file: Path, argv: list[str]) -> int:
    """Run the schemathesis CLI in this process, counting every HTTP request it sends (they all
    go through a requests Session) by status, method and path into `counts_file`."""
    import requests
    from schemathesis.cli import schemathesis as cli

    counts: dict[str, int] = {}
    lock = threading.Lock()
    send = requests.Session.send

    def counting_send(session: requests.Session, request: requests.PreparedRequest, **kwargs: object):
        status = 0  # no answer (refused, reset, timed out)
        try:
            response = send(session, request, **kwargs)
            status = response.status_code
            return response
        finally:
            key = f"{status} {request.method} {urlsplit(request.url).path}"
            with lock:
                counts[key] = counts.get(key, 0) + 1

    requests.Session.send = counting_send
    try:
        code = cli.main(args=argv, prog_name="schemathesis", standalone_mode=False)
    except SystemExit as exit_:
        code = exit_.code
    finally:
        counts_file.write_text(json.dumps(counts))
    return int(code or 0)


def requests_sent(counts: dict[str, int], templates: Templates) -> dict[str, dict[str, int]]:
    """Per operation: requests sent and their status classes ("0xx": no answer)."""
    operations: dict[str, dict[str, int]] = {}
    for key, n in counts.items():
        status, method, path = key.split(" ", 2)
        row = operations.setdefault(operation_of(method, path, templates), {"sent": 0})
        row["sent"] += n
        row[f"{int(status) // 100}xx"] = row.get(f"{int(status) // 100}xx", 0) + n
    return operations


def warm_up(port: int, requests: int) -> None:
    """Every web worker loads the embedding model (/readyz does) before the fuzzer starts: a
    cold load must not read as a timed-out request."""

    def ready() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        conn.request("GET", "/readyz")
        conn.getresponse().read()
        conn.close()

    for _ in range(2):
        threads = [threading.Thread(target=ready) for _ in range(requests)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()


def checks_failed(ndjson: Path, templates: Templates) -> dict[str, dict]:
    """Per operation, from schemathesis' event stream: the test cases it recorded, the responses
    that break the schema, those that failed another check, and the cases failing each check."""
    operations: dict[str, dict] = {}
    for line in ndjson.read_text().splitlines():
        finished = json.loads(line).get("ScenarioFinished")
        if not finished:
            continue
        recorder = finished["recorder"]
        cases = recorder.get("cases", {})
        checks = recorder.get("checks", {})
        for case_id in recorder.get("interactions", {}):
            case = cases[case_id]["value"]
            row = operations.setdefault(
                operation_of(case["method"].upper(), case["path"], templates),
                {"recorded": 0, "schema_violations": 0, "other_failed_checks": 0, "failed": {}},
            )
            row["recorded"] += 1
            failed = {check["name"] for check in checks.get(case_id, []) if check["status"] == "failure"}
            row["schema_violations"] += bool(failed & SCHEMA_CHECKS)
            row["other_failed_checks"] += bool(failed - SCHEMA_CHECKS)
            for name in failed:
                row["failed"][name] = row["failed"].get(name, 0) + 1
    return operations


def run(*, examples: int, seed: int, workers: int) -> dict:
    import redis

    database_url = fresh_demo_copy(FUZZ_DB)
    setup_django(database_url)
    from django.core.management import call_command
    from django.db import connections

    from accounts.services import api_key_create

    call_command("migrate", verbosity=0)
    _, api_key = api_key_create(name="fuzz")  # every scope
    connections.close_all()
    redis.Redis.from_url(FUZZ_REDIS).flushdb()

    slow_log = RESULTS / "fuzz-slow-queries.log"
    env = {
        "REDIS_URL": FUZZ_REDIS,
        "CACHE_URL": FUZZ_REDIS,
        "CELERY_RESULT_BACKEND": FUZZ_REDIS,
        # The fuzzer, not the rate limit, is under test.
        "API_KEY_RATE": "1000000/min",
        **slow_query_env(slow_log),
    }
    port = free_port()
    server = start_gunicorn(database_url, port, workers, log=RESULTS / "fuzz-gunicorn.log", extra_env=env)
    schema_file = RESULTS / "fuzz-schema.json"
    ndjson = RESULTS / "fuzz-events.log"  # NDJSON: one engine event a line
    counts_file = RESULTS / "fuzz-requests.json"
    try:
        with tempfile.TemporaryDirectory() as config_dir:
            schema = fetch_schema(port)
            schema_file.write_text(json.dumps(schema))
            config_file = Path(config_dir) / "schemathesis.toml"
            config_file.write_text(CONFIG)
            warm_up(port, requests=workers * 4)
            command = [sys.executable, __file__, "--count-requests", str(counts_file)]
            command += ["--config-file", str(config_file), "run", str(schema_file)]
            command += ["--url", f"http://127.0.0.1:{port}", "--header", f"Authorization: Api-Key {api_key}"]
            command += ["--max-examples", str(examples), "--seed", str(seed), "--workers", "1"]
            command += ["--generation-database", "none", "--suppress-health-check", "all", "--no-color"]
            # A failure found early must not cut the rest of that operation's run short.
            command += ["--continue-on-failure"]
            command += ["--report", "ndjson", "--report-ndjson-path", str(ndjson)]
            started = time.perf_counter()
            cli = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
            elapsed = time.perf_counter() - started
            (RESULTS / "fuzz-schemathesis.log").write_text(cli.stdout + cli.stderr)
    finally:
        server.terminate()
        server.wait(timeout=30)
    templates = path_patterns(schema)
    sent = requests_sent(json.loads(counts_file.read_text()), templates)
    checked = checks_failed(ndjson, templates)
    rows = []
    for operation in sorted(set(sent) | set(checked)):
        counts = sent.get(operation, {})
        found = checked.get(operation, {})
        rows.append(
            {
                "operation": operation,
                "sent": counts.get("sent", 0),
                "2xx": counts.get("2xx", 0),
                "4xx": counts.get("4xx", 0),
                "5xx": counts.get("5xx", 0),
                "no_answer": counts.get("0xx", 0),
                "schema_violations": found.get("schema_violations", 0),
                "other_failed_checks": found.get("other_failed_checks", 0),
                "recorded": found.get("recorded", 0),
                "failed": " ".join(f"{name}:{n}" for name, n in sorted(found.get("failed", {}).items())),
            }
        )
    totals = {key: sum(row[key] for row in rows) for key in rows[0] if key not in {"operation", "failed"}}
    return {
        "rows": rows,
        "totals": {"operation": "TOTAL", **totals, "failed": ""},
        "summary": {
            "examples_per_operation": examples,
            "seed": seed,
            "schemathesis_exit_code": cli.returncode,
            "seconds": round(elapsed, 1),
            "requests_per_s": round(totals["sent"] / elapsed, 1),
            "schemathesis_output": str(RESULTS / "fuzz-schemathesis.log"),
        },
        "slow_queries": slow_query_summary(slow_log),
    }


def main() -> None:
    if sys.argv[1:2] == ["--count-requests"]:
        sys.exit(counted_schemathesis(Path(sys.argv[2]), sys.argv[3:]))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--examples",
        type=int,
        default=500,
        help="test cases per operation in the fuzzing and stateful phases (coverage: what the schema defines)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    args = parser.parse_args()
    report = run(examples=args.examples, seed=args.seed, workers=args.workers)
    print_table([*report["rows"], report["totals"]])
    print()
    for name, value in report["summary"].items():
        print(f"{name}: {value}")
    print()
    print_slow_queries(report["slow_queries"])
    meta = {"summary": report["summary"], "totals": report["totals"], "slow_queries": report["slow_queries"]}
    print("wrote", write_results("fuzz", report["rows"], meta))


if __name__ == "__main__":
    main()
