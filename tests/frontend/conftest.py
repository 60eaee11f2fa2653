"""Browser fixtures: Debian's Chromium driven by Playwright against a real daphne.

The sync Playwright API marks an asyncio loop as running in the main thread
for as long as it lives, and Django then refuses ORM calls there
(``SynchronousOnlyOperation``). So test data is written through :func:`orm`,
which runs the ORM in a short-lived thread of its own, and the browser is
closed before the module's ``e2e_db`` flushes the tables.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.e2e.conftest import e2e_db, server, start_server  # noqa: F401
from tests.support.services import missing

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ROOT = Path(__file__).resolve().parents[2]
# The README's pictures are refreshed on request only, so that an ordinary test
# run leaves the working tree clean: UPDATE_SCREENSHOTS=1 writes docs/img/.
SCREENSHOTS = (
    ROOT / "docs" / "img"
    if os.environ.get("UPDATE_SCREENSHOTS", "") not in ("", "0")
    else ROOT / "test-artifacts" / "screenshots"
)
PASSWORD = "correct horse battery staple"

T = TypeVar("T")


def orm(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run ORM code (test data, committed at once) outside the Playwright loop's thread."""

    def work() -> T:
        from django.db import connections

        try:
            return fn(*args, **kwargs)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(work).result()


@pytest.fixture(scope="module")
def browser(e2e_db):  # noqa: F811
    """One headless Chromium per module (the Debian package; nothing is downloaded)."""
    if not CHROMIUM.exists():
        missing(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class PageProblems:
    """What a page reported that no user should ever cause: script errors, CSP refusals."""

    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


@pytest.fixture
def open_page(browser):
    """Factory: ``open_page(server, locale=, viewport=, context=, path="/")`` -> a page.

    Each call makes a new browser context (its own cookies and localStorage)
    unless ``context`` is given. At the end of the test every page must have
    been free of JavaScript errors, console errors (CSP violations land there)
    and dialogs (an ``alert`` would mean injected script ran).
    """
    contexts = []
    problems = PageProblems()

    def open_(
        daphne,
        *,
        locale: str = "en-US",
        viewport: dict[str, int] | None = None,
        context=None,
        path: str = "/",
    ):
        if context is None:
            context = browser.new_context(
                base_url=daphne.http_url,
                locale=locale,
                viewport=viewport or {"width": 1100, "height": 720},
                device_scale_factor=1,
            )
            context.set_default_timeout(10_000)
            contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: problems.errors.append(f"pageerror: {exc}"))
        page.on(
            "console",
            lambda msg: msg.type == "error" and problems.errors.append(f"console: {msg.text}"),
        )
        page.on(
            "dialog", lambda dialog: (problems.dialogs.append(dialog.message), dialog.dismiss())
        )
        if path is not None:
            page.goto(path)
        return page

    open_.problems = problems
    yield open_
    for context in contexts:
        context.close()
    # A WebSocket refused while the server restarts is logged as a console error; nothing else.
    unexpected = [e for e in problems.errors if not _is_expected_network_error(e)]
    assert not unexpected, unexpected
    assert not problems.dialogs, problems.dialogs


def _is_expected_network_error(message: str) -> bool:
    return bool(
        re.search(r"WebSocket connection to '.*' failed", message)
        or "net::ERR_CONNECTION_REFUSED" in message
    )


def log_in(page, username: str, password: str = PASSWORD) -> None:
    """Log in through the page's own login form, starting from the page's link."""
    page.goto("/")
    page.get_by_role("navigation").get_by_role("link", name=re.compile("Log in|登录")).click()
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(password)
    page.locator("form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/$"))
    wait_live(page)


def wait_live(page) -> None:
    """Wait until the page says "live": connected, and any replay of missed notes is done."""
    page.locator("#notes-live[data-state=live]").wait_for()


def screenshot(page, name: str, **kwargs: Any) -> Path:
    """Save a PNG for the README (docs/img/ with UPDATE_SCREENSHOTS=1, else test-artifacts/)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    page.screenshot(path=str(path), animations="disabled", caret="hide", **kwargs)
    return path


@pytest.fixture(scope="module")
def users(e2e_db) -> Iterator[Any]:  # noqa: F811
    """Factory: ``users(prefix)`` -> a committed user whose password is PASSWORD.

    The name is ``prefix`` plus a random suffix; ``users(name, exact=True)``
    takes the name as it is (for screenshots; once per module, as the tables
    are flushed at the module's end).
    """
    from tests.support.data import make_user

    def make(prefix: str = "u", *, exact: bool = False):
        return orm(_make_exact_user, prefix) if exact else orm(make_user, prefix, password=PASSWORD)

    yield make


def _make_exact_user(username: str):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user(username, password=PASSWORD)


def make_poster(username: str) -> tuple[Any, str]:
    """A user named exactly ``username`` with an API token (runs in an ORM thread)."""
    from note.tokens import token_issue

    def make():
        user = _make_exact_user(username)
        return user, token_issue(user=user)

    return orm(make)
