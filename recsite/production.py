"""Production overrides (DJANGO_DEBUG=0), imported at the end of recsite.settings: HTTPS only,
secure cookies, HSTS, hashed static files served by whitenoise. `manage.py check --deploy` is clean
with them (tests/recsite/test_production.py)."""

from __future__ import annotations

import os

# Behind a TLS-terminating proxy (load balancer, ingress) that sets X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = os.environ.get("DJANGO_SECURE_SSL_REDIRECT", "1") not in {"0", "false", "no", "off"}
# Probes and Prometheus talk plain HTTP to the container.
SECURE_REDIRECT_EXEMPT = [r"^healthz/?$", r"^readyz/?$", r"^metrics/?$"]
SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", str(365 * 24 * 3600)))
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
# Off only for the demo, served over plain HTTP on 127.0.0.1 (scripts/demo.sh).
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = os.environ.get("DJANGO_SECURE_COOKIES", "1") not in {
    "0",
    "false",
    "no",
    "off",
}
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("DJANGO_CSRF_TRUSTED_ORIGINS", "").split(",") if o]
# Hashed, compressed files from `collectstatic` (the image runs it at build); no finders at run time.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = False

# Django's own rule for a strong key (check --deploy, security.W009).
SECRET_KEY_MIN_LENGTH = 50
SECRET_KEY_MIN_UNIQUE = 5


def secret_key_check(*, key: str, dev_key: str) -> None:
    """Refuse to start without a real secret key: none, the development default, or a weak one."""
    if not key:
        raise RuntimeError("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off")
    if key == dev_key or key.startswith("django-insecure-"):
        raise RuntimeError("DJANGO_SECRET_KEY is the development default; set a real one when DJANGO_DEBUG is off")
    if len(key) < SECRET_KEY_MIN_LENGTH or len(set(key)) < SECRET_KEY_MIN_UNIQUE:
        raise RuntimeError(
            f"DJANGO_SECRET_KEY is too weak: at least {SECRET_KEY_MIN_LENGTH} characters,"
            f" {SECRET_KEY_MIN_UNIQUE} distinct"
        )
