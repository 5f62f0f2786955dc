"""Production settings (DJANGO_DEBUG=0): a real secret key is required, `check --deploy` is clean."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

PROJECT_ROOT = Path(settings.BASE_DIR)
STRONG_KEY = "k3y-" + "".join(chr(ord("a") + i % 26) for i in range(60))


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT_ROOT,
        env={**environment, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_check_deploy_is_clean_with_production_settings():
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=STRONG_KEY,
        DJANGO_ALLOWED_HOSTS="shop.example.com",
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (None, "DJANGO_SECRET_KEY must be set"),
        ("insecure-dev-key", "development default"),
        ("short-key", "too weak"),
    ],
)
def test_production_refuses_a_missing_default_or_weak_secret_key(key, message):
    env = {"DJANGO_DEBUG": "0", "DJANGO_ALLOWED_HOSTS": "shop.example.com"}
    if key is not None:
        env["DJANGO_SECRET_KEY"] = key

    result = manage("check", **env)

    assert result.returncode != 0
    assert message in result.stderr


def test_development_settings_keep_the_defaults():
    # The test run itself uses the development settings: no HTTPS redirect, finders on.
    assert settings.SECRET_KEY == "insecure-dev-key"
    assert not getattr(settings, "SECURE_SSL_REDIRECT", False)
    assert settings.WHITENOISE_USE_FINDERS is True


def test_production_refuses_debug_on():
    result = manage("check", DJANGO_PRODUCTION="1", DJANGO_DEBUG="1")

    assert result.returncode != 0
    assert "DJANGO_PRODUCTION is set: DJANGO_DEBUG must be off (0)" in result.stderr


@pytest.mark.slow
def test_the_demos_settings_load_with_debug_off_and_cookies_over_http():
    result = manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings; print(settings.DEBUG, settings.SESSION_COOKIE_SECURE)",
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=STRONG_KEY,
        DJANGO_SECURE_SSL_REDIRECT="0",
        DJANGO_SECURE_COOKIES="0",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"]
