"""Note text never becomes markup, and the page's policy lets no foreign or inline script run."""

from __future__ import annotations

import re
import urllib.request

import pytest
from playwright.sync_api import expect

from tests.frontend.conftest import log_in, make_poster, orm, wait_live
from tests.support.http import post_news

pytestmark = pytest.mark.timeout(60)

XSS = "<img src=x onerror=alert(1)>"


def test_a_script_in_a_news_title_shows_as_text_everywhere(server, open_page, users):
    mallory, token = make_poster("mallory")
    alice = users("alice")
    page = open_page(server)
    log_in(page, alice.username)

    # Any part of the page that turned this into markup would show an image and
    # open an alert (open_page's teardown fails the test on any dialog).
    news = post_news(server, token, XSS, "<script>alert(2)</script> & more")

    toast = page.locator(".toast", has=page.locator(f'a[href$="/news/{news["id"]}/"]'))
    expect(toast.locator(".toast-title")).to_have_text(f"{mallory.username} posted news: {XSS}")
    expect(toast.locator(".toast-content")).to_have_text("<script>alert(2)</script> & more")
    assert page.locator("#notes-toasts img, #notes-toasts script").count() == 0

    page.locator("#notes-bell").click()
    item = page.locator("#notes-inbox .inbox-item").first
    expect(item.locator(".inbox-title")).to_have_text(f"{mallory.username} posted news: {XSS}")
    assert page.locator("#notes-inbox img").count() == 0

    page.goto("/")
    expect(page.locator(".news-list a").first).to_have_text(XSS)
    page.goto(news["url"])
    expect(page.get_by_role("heading", level=1)).to_have_text(XSS)
    expect(page).to_have_title(XSS)
    assert page.locator("main img, main script").count() == 0
    wait_live(page)


def test_a_note_url_with_a_javascript_scheme_is_not_a_link(server, open_page, e2e_db):
    from note.signals import notify

    page = open_page(server)
    wait_live(page)
    orm(
        notify.send,
        sender=None,
        title="Click me",
        url="javascript:alert(3)",
        kind="test.bad_url",
        recipients=None,
    )
    toast = page.locator(".toast", has_text="Click me")
    expect(toast).to_be_visible()
    assert toast.locator("a").count() == 0
    toast.locator(".toast-title").click()
    expect(page).to_have_url(re.compile(r"/$"))


def test_the_page_sends_a_policy_that_allows_scripts_from_the_site_alone(server, open_page):
    with urllib.request.urlopen(f"{server.http_url}/", timeout=10) as response:
        policy = response.headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["default-src"] == "'self'"
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy

    # Chromium enforces it: an inline script added to the page does not run.
    page = open_page(server)
    wait_live(page)
    page.evaluate(
        """() => {
            const script = document.createElement("script");
            script.textContent = "window.inlineRan = true";
            document.head.append(script);
        }"""
    )
    assert page.evaluate("window.inlineRan === undefined")
    refused = [e for e in open_page.problems.errors if "Content Security Policy" in e]
    assert refused, open_page.problems.errors
    open_page.problems.errors.clear()  # that refusal was this test's doing


def test_nothing_is_fetched_from_another_site(server, open_page, users):
    alice = users("alice")
    page = open_page(server, path=None)
    hosts: set[str] = set()
    page.on("request", lambda request: hosts.add(re.sub(r"^\w+://([^/]+).*", r"\1", request.url)))
    log_in(page, alice.username)
    page.locator("#notes-bell").click()
    expect(page.locator("#notes-inbox")).to_be_visible()
    assert hosts == {f"127.0.0.1:{server.port}"}, hosts
