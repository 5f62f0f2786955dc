"""Fault drill: a database that accepts TCP but never answers. The web must answer 503 within its
timeouts (never hang a thread), and serve again once the database answers.

gunicorn (as deploy/gunicorn.conf.py: statement timeout 5 s, connect timeout 3 s) reaches a scratch
database (`recsite_silent_drill` on the embedded server) through a small TCP proxy in this script.
Four clients read `GET /api/v1/products/{id}` back to back. After `--before` seconds the proxy
turns silent for `--silent` seconds: new connections are accepted and never answered, and
nothing more is forwarded on the open ones; then it relays again. Usage:

    .venv/bin/python bench/db_silent_drill.py [--before 5] [--silent 15] [--after 15]

Reported per phase: requests and their statuses, p50 / max ms; the time from relaying again to the
first 2xx and to the first whole second of 2xx only.
"""

from __future__ import annotations

import argparse
import http.client
import socket
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.api_latency import free_port, setup_django, start_gunicorn  # noqa: E402
from bench.common import RESULTS, drill_report, percentile  # noqa: E402
from recsite.database import embedded_database_url  # noqa: E402

SCRATCH_DATABASE = "recsite_silent_drill"
CLIENTS = 4
CLIENT_TIMEOUT_S = 60.0


@dataclass
class Sample:
    sent: float
    done: float
    status: int  # 0: no answer


class SilentProxy:
    """TCP on localhost to the embedded server's Unix socket; `silent` stops every answer."""

    def __init__(self, unix_path: str) -> None:
        self.unix_path = unix_path
        self.silent = False
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            client, _ = self.server.accept()
            if self.silent:
                self.held.append(client)  # accepted, never answered
                continue
            upstream = socket.socket(socket.AF_UNIX)
            upstream.connect(self.unix_path)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                while self.silent:
                    time.sleep(0.05)  # hold the bytes: the other side waits for ever
                sink.sendall(data)
        except OSError:
            pass
        for s in (source, sink):
            s.close()


def sender(port: int, headers: dict, paths: list[str], stop: threading.Event, samples: list[Sample]) -> None:
    i = 0
    while not stop.is_set():
        sent = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=CLIENT_TIMEOUT_S)
        try:
            conn.request("GET", paths[i % len(paths)], headers=headers)
            response = conn.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            status = 0
        conn.close()
        samples.append(Sample(sent, time.perf_counter(), status))
        i += 1
        time.sleep(0.05)


def phase_row(name: str, samples: list[Sample], start: float, end: float) -> dict:
    mine = [s for s in samples if start <= s.sent < end]
    ms = sorted((s.done - s.sent) * 1000 for s in mine)
    statuses: dict[int, int] = {}
    for s in mine:
        statuses[s.status] = statuses.get(s.status, 0) + 1
    return {
        "phase": name,
        "seconds": round(end - start, 1),
        "requests": len(mine),
        "2xx": sum(n for k, n in statuses.items() if 200 <= k < 300),
        "503": statuses.get(503, 0),
        "other": sum(n for k, n in statuses.items() if not (200 <= k < 300 or k == 503)),
        "p50_ms": round(percentile(ms, 50), 1),
        "max_ms": round(ms[-1], 1) if ms else 0.0,
        "statuses": " ".join(f"{k}:{n}" for k, n in sorted(statuses.items())),
    }


def run(*, before: float, silent: float, after: float) -> dict:
    import psycopg

    url = embedded_database_url(database=SCRATCH_DATABASE)
    setup_django(url)
    from django.core.management import call_command

    from accounts.services import api_key_create
    from catalog.models import Product

    call_command("migrate", verbosity=0)
    Product.objects.filter(external_id__startswith="SILENT-").delete()
    Product.objects.bulk_create([Product(external_id=f"SILENT-{i}", title=f"silent drill {i}") for i in range(50)])
    _, api_key = api_key_create(name="db-silent-drill")
    info = psycopg.conninfo.conninfo_to_dict(url)
    proxy = SilentProxy(f"{info['host']}/.s.PGSQL.{info.get('port') or 5432}")
    proxied = f"postgresql://{info.get('user') or 'postgres'}@127.0.0.1:{proxy.port}/{info['dbname']}"
    port = free_port()
    server = start_gunicorn(proxied, port, 2, log=RESULTS / "db_silent_drill-gunicorn.log")
    headers = {"Authorization": f"Api-Key {api_key}"}
    paths = [f"/api/v1/products/SILENT-{i}" for i in range(50)]
    samples: list[Sample] = []
    stop = threading.Event()
    threads = [
        threading.Thread(target=sender, args=(port, headers, paths, stop, samples), daemon=True) for _ in range(CLIENTS)
    ]
    t = {"start": time.perf_counter()}
    try:
        for thread in threads:
            thread.start()
        time.sleep(before)
        t["silent"], proxy.silent = time.perf_counter(), True
        time.sleep(silent)
        t["back"], proxy.silent = time.perf_counter(), False
        time.sleep(after)
        stop.set()
        for thread in threads:
            thread.join(timeout=CLIENT_TIMEOUT_S + 5)
        t["end"] = time.perf_counter()
    finally:
        server.terminate()
        server.wait(timeout=30)
    phases = [
        phase_row("before", samples, t["start"], t["silent"]),
        phase_row("silent", samples, t["silent"], t["back"]),
        phase_row("after", samples, t["back"], t["end"]),
    ]
    later = sorted((s for s in samples if s.sent >= t["back"]), key=lambda s: s.sent)
    first_2xx = min((s.done - t["back"] for s in later if 200 <= s.status < 300), default=None)
    full = None
    offset = 0.0
    while later and t["back"] + offset + 1.0 <= later[-1].sent:
        window = [s for s in later if t["back"] + offset <= s.sent < t["back"] + offset + 1.0]
        if window and all(200 <= s.status < 300 for s in window):
            full = round(offset, 1)
            break
        offset += 0.1
    silent_phase = [s for s in samples if t["silent"] <= s.sent < t["back"]]
    summary = {
        "first_answer_in_silence_ms": round(min(((s.done - s.sent) * 1000 for s in silent_phase), default=0.0), 1),
        "longest_answer_in_silence_ms": phases[1]["max_ms"],
        "first_2xx_after_back_s": round(first_2xx, 2) if first_2xx is not None else None,
        "full_2xx_second_after_back_s": full,
        "no_answer_total": sum(1 for s in samples if s.status == 0),
    }
    return {"phases": phases, "summary": summary}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=float, default=5.0)
    parser.add_argument("--silent", type=float, default=15.0)
    parser.add_argument("--after", type=float, default=15.0)
    args = parser.parse_args()
    report = run(before=args.before, silent=args.silent, after=args.after)
    drill_report("db_silent_drill", report["phases"], report["summary"], args)


if __name__ == "__main__":
    main()
