"""What the headless-Chromium page tests share: the browser, the marks, logging in, screenshots.

The `page` fixture (tests/conftest.py) opens a page in Debian's Chromium through Playwright; the
screenshots land in var/screenshots/ for people to look at.
"""

from __future__ import annotations

import importlib
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, Permission

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[1] / "var" / "screenshots"
# The flags this machine needs: no sandbox as root, and no calls to Google's hosts.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]

# `pytestmark = BROWSER_TEST` in a module of page tests.
BROWSER_TEST = [
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed"),
    pytest.mark.django_db(transaction=True),
]
# For page tests signed in as a role (`role_login`): the groups come from data migrations, which a
# transactional test's flush removes; serialized_rollback restores them for the next test.
ROLE_BROWSER_TEST = BROWSER_TEST


@contextmanager
def chromium_page() -> Iterator:
    # Playwright's sync API runs an event loop in this thread; the ORM calls the test makes
    # between page actions are still synchronous.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport={"width": 1400, "height": 1000})
        finally:
            browser.close()


def admin_login(page, live_server, django_user_model, *, username: str = "ops") -> None:
    """Create a superuser and sign the page in to the admin as them."""
    django_user_model.objects.create_superuser(username, f"{username}@example.com", "s3cret-pass")
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "s3cret-pass")
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")


def role_login(page, live_server, django_user_model, *, group: str, username: str = "staff") -> None:
    """Create a staff user in `group` (Operators, Merchandisers) and sign the page in as them."""
    roles_restore()
    user = django_user_model.objects.create_user(username, f"{username}@example.com", "s3cret-pass", is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "s3cret-pass")
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")


# The migrations that give the back-office groups their permissions, and their role tables.
ROLE_MIGRATIONS = (
    ("recommendations.migrations.0004_roles_merchandisers_operators", "ROLES"),
    ("recommendations.migrations.0007_operators_prompt_templates", "TEMPLATE_ROLES"),
    ("recommendations.migrations.0010_badcase_from_experiments", "BADCASE_ROLES"),
    ("recommendations.migrations.0011_default_strategy_roles", "DEFAULT_STRATEGY_ROLES"),
    ("monitoring.migrations.0002_operators_view_monitoring", "ROLES"),
    ("recommendations.migrations.0016_reason_adapters", "ADAPTER_ROLES"),
)


def roles_restore() -> None:
    """The groups the migrations create, made again with their permissions: a transactional test
    before this one flushed them (serialized rollback would clash with the content types the
    flush's post_migrate recreates)."""
    for module, name in ROLE_MIGRATIONS:
        for group_name, by_app in getattr(importlib.import_module(module), name).items():
            group, _ = Group.objects.get_or_create(name=group_name)
            for app_label, models in by_app.items():
                codenames = [f"{action}_{model}" for model, actions in models.items() for action in actions]
                group.permissions.add(
                    *Permission.objects.filter(content_type__app_label=app_label, codename__in=codenames)
                )


def screenshot(page, name: str, *, full_page: bool = True) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=full_page)
