"""The production settings under gunicorn: hashed static files from whitenoise, HSTS and secure
cookies behind the TLS proxy, plain-HTTP probes and metrics, everything else redirected to HTTPS."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from django.db import connection

from tests.processes import database_url_for, gunicorn_server
from tests.recsite.test_gunicorn_metrics import PROJECT_ROOT, free_port, get
from tests.recsite.test_production import STRONG_KEY


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_production_server_serves_static_files_and_probes_and_redirects_the_rest(tmp_path):
    # given the production environment, static files collected as the image build does
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env |= {
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": STRONG_KEY,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": database_url_for(connection.settings_dict),
        "RECSITE_VAR_DIR": str(tmp_path / "var"),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),
        "GUNICORN_WORKERS": "1",
    }
    collected = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert collected.returncode == 0, collected.stderr[-2000:]
    log = tmp_path / "gunicorn.log"
    with gunicorn_server(env=env, port=port, log=log):
        # when a browser comes through the TLS proxy, and plain HTTP arrives directly
        behind_tls = {"X-Forwarded-Proto": "https"}
        login = raw_get(port, "/admin/login/", behind_tls)
        stylesheet = re.search(r'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', login.body).group(1)
        css = raw_get(port, stylesheet, behind_tls)
        plain = raw_get(port, "/admin/login/")
        probes = [get(port, path)[0] for path in ("/healthz", "/metrics")]

    # then pages carry HSTS and secure cookies, static files are hashed and cached for good
    assert login.status == 200
    assert login.headers["strict-transport-security"].startswith("max-age=31536000; includeSubDomains; preload")
    assert "secure" in login.headers["set-cookie"].lower()
    assert css.status == 200
    assert "immutable" in css.headers["cache-control"]
    # plain HTTP is sent to HTTPS, except the probes and the metrics Prometheus scrapes
    assert (plain.status, plain.headers["location"]) == (301, f"https://127.0.0.1:{port}/admin/login/")
    assert probes == [200, 200]


class Reply:
    def __init__(self, status: int, headers: dict[str, str], body: str) -> None:
        self.status, self.headers, self.body = status, headers, body


def raw_get(port: int, path: str, headers: dict | None = None) -> Reply:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", path, headers=headers or {})
    response = conn.getresponse()
    body = response.read().decode(errors="replace")
    # Several Set-Cookie headers fold into one string here; enough for the checks above.
    return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, body)
