"""`manage.py simulate_traffic`: storefront sessions against the real API, clicking what customers
really bought after the cutoff (see experiments.simulation), then the experiment's results."""

from __future__ import annotations

import dataclasses
import json
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.test import Client
from django.utils import timezone

from accounts.public import api_key_create, api_key_revoke
from catalog.public import Event
from experiments.dashboard import experiment_dashboard
from experiments.interleaving_dashboard import interleaving_dashboard
from experiments.models import Experiment, Kind, Status
from experiments.simulation import customers_sample, holdout_read, traffic_simulate
from experiments.snapshots import experiment_snapshots_build
from placements.public import Placement


class HttpStorefront:
    """A storefront calling a running server (e.g. `make demo`'s gunicorn)."""

    def __init__(self, *, base_url: str, api_key: str, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.headers = {"Authorization": f"Api-Key {api_key}", "Content-Type": "application/json"}
        self.timeout = timeout

    def get(self, path: str, params: dict[str, Any]) -> tuple[int, Any]:
        return self._send(urllib.request.Request(f"{self.base_url}{path}?{urllib.parse.urlencode(params)}"))

    def post(self, path: str, body: Any) -> tuple[int, Any]:
        data = json.dumps(body).encode()
        return self._send(urllib.request.Request(f"{self.base_url}{path}", data=data, method="POST"))

    def _send(self, request: urllib.request.Request) -> tuple[int, Any]:
        for name, value in self.headers.items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, None


class InProcessStorefront:
    """The same requests through Django's full request stack in this process (no server needed)."""

    def __init__(self, *, api_key: str) -> None:
        self.client = Client(HTTP_AUTHORIZATION=f"Api-Key {api_key}")

    def get(self, path: str, params: dict[str, Any]) -> tuple[int, Any]:
        response = self.client.get(path, params)
        return response.status_code, response.json()

    def post(self, path: str, body: Any) -> tuple[int, Any]:
        response = self.client.post(path, body, content_type="application/json")
        return response.status_code, response.json()


class Command(BaseCommand):
    help = (
        "Simulate storefront sessions for a running home-feed experiment: each customer gets their feed from "
        "the API and clicks (and buys) the items they really bought in the held-out file."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--experiment", required=True, help="key of a running home-feed experiment")
        parser.add_argument(
            "--holdout",
            required=True,
            type=Path,
            help="events after the store's cutoff (JSON Lines or CSV, interchange format), e.g. from "
            "`load_demo --until ISO --holdout FILE`",
        )
        parser.add_argument("--customers", type=int, default=500, help="customers simulated (default 500)")
        parser.add_argument("--sessions", type=int, default=1, help="feed requests per customer (default 1)")
        parser.add_argument("--k", type=int, default=10, help="items asked for per feed (default 10)")
        parser.add_argument("--seed", type=int, default=1, help="which customers are sampled")
        parser.add_argument(
            "--base-url", help="call a running server instead of this process, e.g. http://127.0.0.1:8000"
        )
        parser.add_argument("--api-key", help="the storefront key for --base-url")
        parser.add_argument("--json", type=Path, help="also write the report and results here")

    def handle(self, *args, **options) -> None:
        experiment = self._experiment(options["experiment"])
        for name in ("customers", "sessions", "k"):
            if options[name] < 1:
                raise CommandError(f"--{name} must be at least 1")
        if not options["holdout"].is_file():
            raise CommandError(f"no such file: {options['holdout']}")
        held_out = holdout_read(path=str(options["holdout"]))
        # Customers the store has events for: a feed without history would only show popular items.
        known = (
            Event.objects.filter(customer__external_id__in=list(held_out.purchases))
            .values_list("customer__external_id", flat=True)
            .distinct()
        )
        customers = customers_sample(held_out=held_out, known=known, n=options["customers"], seed=options["seed"])
        if not customers:
            raise CommandError("no customer of the held-out file has a history in the store")
        self.stdout.write(
            f"{len(customers)} customers with a history and held-out purchases "
            f"({held_out.rows_read} held-out rows, {held_out.rows_skipped} skipped)"
        )
        storefront, temporary_key = self._storefront(options)
        try:
            report = traffic_simulate(
                storefront=storefront,
                customers=customers,
                held_out=held_out,
                sessions_per_customer=options["sessions"],
                k=options["k"],
                now=timezone.now(),
            )
        finally:
            if temporary_key is not None:
                api_key_revoke(api_key_id=temporary_key)
        if experiment.kind == Kind.INTERLEAVING:
            self._print_interleaving(report=report, experiment=experiment, path=options["json"])
            return
        experiment_snapshots_build(experiment_id=experiment.pk)
        self._print(report=report, experiment=experiment, path=options["json"])

    def _experiment(self, key: str) -> Experiment:
        experiment = Experiment.objects.filter(key=key).first()
        if experiment is None:
            raise CommandError(f"no experiment with key {key!r}")
        if experiment.placement != Placement.HOME_FEED:
            raise CommandError(f"{key!r} runs on {experiment.placement}; the simulator drives the home feed")
        if experiment.status != Status.RUNNING:
            raise CommandError(f"{key!r} is {experiment.status}: launch it first")
        return experiment

    def _storefront(self, options: dict) -> tuple[HttpStorefront | InProcessStorefront, int | None]:
        if options["base_url"]:
            if not options["api_key"]:
                raise CommandError("--base-url needs --api-key")
            return HttpStorefront(base_url=options["base_url"], api_key=options["api_key"]), None
        # A short-lived key of our own, revoked when the run ends.
        api_key, raw_key = api_key_create(name="simulate_traffic (temporary)")
        return InProcessStorefront(api_key=raw_key), api_key.pk

    def _print_interleaving(self, *, report, experiment: Experiment, path: Path | None) -> None:
        """The interleaving results: preferences, the sign test and the verdict."""
        errors = dict(report.errors) or "none"
        self.stdout.write(f"sessions {report.sessions}, events sent {report.events_sent}, errors {errors}")
        d = interleaving_dashboard(experiment_id=experiment.pk)
        results = {
            "customers": d.customers,
            "lists": d.lists,
            "clicks": {d.team_a: d.clicks_a, d.team_b: d.clicks_b},
            "preferring": {d.team_a: d.result.wins_a, d.team_b: d.result.wins_b, "tie": d.result.ties},
            "share_b": d.share_text,
            "p_value": d.result.p_value,
            "p_always_valid": d.result.p_always_valid,
            "verdict": d.outcome,
        }
        self.stdout.write(f"{experiment.key} (interleaving): {json.dumps(results)}")
        if path:
            payload = {"experiment": experiment.key, "sessions": report.sessions, "results": results}
            path.write_text(json.dumps(payload, indent=2))
            self.stdout.write(f"wrote {path}")

    def _print(self, *, report, experiment: Experiment, path: Path | None) -> None:
        self.stdout.write(
            f"sessions {report.sessions}, lists outside the experiment {report.lists_outside_experiment}, "
            f"events sent {report.events_sent}, errors {dict(report.errors) or 'none'}"
        )
        for key, traffic in sorted(report.variants.items()):
            self.stdout.write(
                f"  {key}: {traffic.lists} lists to {len(traffic.customers)} customers, "
                f"{traffic.clicks} clicks, {traffic.purchases} purchases, revenue {traffic.revenue:,.2f}"
            )
        dashboard = experiment_dashboard(experiment_id=experiment.pk)
        self.stdout.write(f"\n{experiment.key} — primary metric: {dashboard.primary_label}; {dashboard.as_of}")
        header = ["variant", "customers", "exposures", *dashboard.metric_labels, "lift", "95% CI", "p", "p (seq.)"]
        rows = [
            [r.key, str(r.customers), str(r.exposures), *r.values, r.lift, r.lift_ci, r.p_value, r.p_sequential]
            for r in dashboard.rows
        ]
        widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(header)]
        for row in [header, *rows]:
            self.stdout.write("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
        self.stdout.write(("SRM FLAGGED: " if dashboard.srm_flagged else "SRM clean: ") + dashboard.srm_text)
        for warning in dashboard.warnings:
            self.stdout.write(f"warning: {warning}")
        if path:
            payload = {
                "experiment": experiment.key,
                "report": {
                    "sessions": report.sessions,
                    "lists_outside_experiment": report.lists_outside_experiment,
                    "events_sent": report.events_sent,
                    "errors": dict(report.errors),
                    "variants": {
                        key: {**dataclasses.asdict(t), "customers": len(t.customers)}
                        for key, t in report.variants.items()
                    },
                },
                "results": [dict(zip(header, row, strict=True)) for row in rows],
                "srm_flagged": dashboard.srm_flagged,
                "srm": dashboard.srm_text,
                "warnings": list(dashboard.warnings),
            }
            path.write_text(json.dumps(payload, indent=2))
            self.stdout.write(f"wrote {path}")
