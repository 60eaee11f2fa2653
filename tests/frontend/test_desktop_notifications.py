"""Desktop notifications in a real Chromium: a hidden page shows a note through the
Notification API, once the user turned them on from the bell.

Making a page really hidden: Playwright gives every page its own window and
keeps each one "visible" (it turns on focus emulation for every page it
drives: microsoft/playwright#2286, #3570), so a second Playwright page in
front changes nothing. Chromium's own tabs do hide: we start /usr/bin/chromium
ourselves with a DevTools port and attach with ``connect_over_cdp(...,
no_defaults=True)``, which leaves the default context's pages un-emulated.
A new page in that context opens as a tab of the same window and comes to the
front: the page behind it reports ``document.visibilityState == "hidden"``
and gets ``visibilitychange``, exactly as when a user switches tabs.

What the page asks of the Notification API is observed by an init script that
wraps the constructor and calls through to the real one; the permission is
granted (or denied) by the test through the browser, as a user would at the
prompt. Clicking a system notification is not possible headless, so the test
dispatches a ``click`` on the real Notification object the page made.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import time

import pytest
from playwright.sync_api import expect

from note.services import note_create
from tests.frontend.conftest import (
    CHROMIUM,
    CHROMIUM_ARGS,
    PASSWORD,
    orm,
    screenshot,
    wait_live,
)
from tests.support.services import missing

pytestmark = pytest.mark.timeout(90)

# Runs in every document before its scripts: records each Notification the page
# makes (then makes the real one) and every permission request; counts calls of
# window.focus in sessionStorage, which outlives the navigation a click causes.
OBSERVE = """
(() => {
  const Real = window.Notification;
  window.__shown = [];
  window.__asked = 0;
  window.__seen = [];
  document.addEventListener("notes:popup", ({ detail }) => {
    window.__seen.push([detail.note.id, detail.as]);
  });
  const focus = window.focus.bind(window);
  window.focus = () => {
    sessionStorage.setItem("focused", String(Number(sessionStorage.getItem("focused") || 0) + 1));
    focus();
  };
  if (!Real) return;
  function Observed(title, options) {
    const made = new Real(title, options);
    window.__shown.push({ title, body: options && options.body, tag: options && options.tag });
    window.__last = made;
    return made;
  }
  Observed.prototype = Real.prototype;
  Object.defineProperty(Observed, "permission", { get: () => Real.permission });
  Observed.requestPermission = (...args) => {
    window.__asked += 1;
    return Real.requestPermission(...args);
  };
  window.Notification = Observed;
})();
"""


class Tabs:
    """Chromium with real tabs: ``open(path)`` opens a tab in front of the others."""

    def __init__(self, browser, origin: str) -> None:
        self.browser = browser
        self.context = browser.contexts[0]
        self.origin = origin
        self.context.add_init_script(OBSERVE)
        self.context.set_default_timeout(10_000)
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self._cdp = browser.new_browser_cdp_session()

    def open(self, path: str | None = "/"):
        page = self.context.new_page()
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        if path is not None:
            page.goto(self.origin + path)
        return page

    def permission(self, setting: str) -> None:
        """What the user answered at the prompt: "granted", "denied" or "prompt"."""
        self._cdp.send(
            "Browser.setPermission",
            {"permission": {"name": "notifications"}, "setting": setting, "origin": self.origin},
        )


@pytest.fixture
def tabs(server):
    if not CHROMIUM.exists():
        missing(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="notes-desktop-")
    chromium = subprocess.Popen(
        [str(CHROMIUM), *CHROMIUM_ARGS, "--remote-debugging-port=0", f"--user-data-dir={profile}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        endpoint = None
        for line in chromium.stderr:
            if match := re.search(r"DevTools listening on (ws://\S+)", line):
                endpoint = match.group(1)
                break
        assert endpoint, "chromium did not open its DevTools port"
        with sync_playwright() as playwright:
            browser = playwright.chromium.connect_over_cdp(endpoint, no_defaults=True)
            tabs = Tabs(browser, server.http_url)
            yield tabs
            browser.close()
        assert not tabs.dialogs, tabs.dialogs
        assert not tabs.errors, tabs.errors
    finally:
        chromium.terminate()
        chromium.wait(timeout=10)
        shutil.rmtree(profile, ignore_errors=True)


def log_in(page, origin: str, username: str) -> None:
    page.goto(origin + "/accounts/login/")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/$"))
    wait_live(page)


def open_settings(page) -> None:
    page.locator("#notes-bell").click()
    page.locator("#notes-settings-toggle").click()


def turn_on(page) -> None:
    open_settings(page)
    page.get_by_role("button", name="Turn on desktop notifications").click()
    expect(page.locator("#notes-desktop-status")).to_have_attribute("data-state", "on")


def visibility(page) -> str:
    return page.evaluate("document.visibilityState")


def seen(page, note_id: int) -> str:
    """What the page made of a note: "desktop", "elsewhere", "toast" or "none".

    Polled with ``evaluate`` (the page's CSP forbids the string evaluation that
    ``wait_for_function`` does); the wait has a deadline, the answer no timing.
    """
    deadline = time.monotonic() + 10
    while True:
        made = dict(page.evaluate("window.__seen"))
        if note_id in made:
            return made[note_id]
        assert time.monotonic() < deadline, f"the page never got note {note_id}: {made}"
        page.wait_for_timeout(50)


def send(user, **fields) -> int:
    [note] = orm(note_create, recipients=[user], **{"kind": "order", "title": "t", **fields})
    return note.id


def test_no_prompt_on_load_and_a_denied_permission_is_said_plainly(tabs, users):
    alice = users("alice")
    page = tabs.open()
    log_in(page, tabs.origin, alice.username)
    page.reload()
    wait_live(page)
    assert page.evaluate("[window.__asked, Notification.permission]") == [0, "default"]
    open_settings(page)
    expect(page.locator("#notes-desktop-status")).to_have_text(
        "Desktop notifications are off in this browser."
    )
    assert page.evaluate("window.__asked") == 0

    tabs.permission("denied")
    page.reload()
    wait_live(page)
    open_settings(page)
    status = page.locator("#notes-desktop-status")
    expect(status).to_have_attribute("data-state", "denied")
    expect(status).to_contain_text("This browser blocks notifications from this site")
    expect(page.locator("#notes-desktop-toggle")).to_be_hidden()
    assert page.evaluate("window.__asked") == 0


def test_a_hidden_page_shows_a_note_on_the_desktop_a_visible_one_toasts(tabs, users):
    alice = users("alice")
    tabs.permission("granted")
    page = tabs.open()
    log_in(page, tabs.origin, alice.username)

    # Permission alone is not consent: until the user turns them on, nothing.
    front = tabs.open(None)
    assert visibility(page) == "hidden"
    before = send(alice, title="before opting in")
    assert seen(page, before) == "toast" and page.evaluate("window.__shown") == []

    page.bring_to_front()
    assert visibility(page) == "visible"
    turn_on(page)
    screenshot(page, "desktop-settings.png")
    visible = send(alice, title="while you look")
    assert seen(page, visible) == "toast"
    expect(page.locator(".toast", has_text="while you look")).to_be_visible()

    front.bring_to_front()
    assert visibility(page) == "hidden"
    title = '<img src=x onerror="alert(1)"> Order shipped'
    hidden = send(alice, title=title, content="<b>12.50</b> paid", url="/news/")
    assert seen(page, hidden) == "desktop"
    assert page.evaluate("window.__shown") == [
        {"title": title, "body": "<b>12.50</b> paid", "tag": f"note-{hidden}"}
    ]
    assert page.locator(".toast", has_text="Order shipped").count() == 0

    # A muted kind, and a kind whose desktop channel is off: no system notification
    # (the second toasts, and its toast waits for the user to come back).
    # Both set in the bell's settings panel.
    page.bring_to_front()
    page.locator("#notes-settings-kind").fill("chat")
    page.get_by_role("button", name="Mute", exact=True).click()
    expect(page.locator("#notes-settings-muted")).to_contain_text("chat")
    page.locator("#notes-settings-kind").fill("invoice")
    page.get_by_role("button", name="No desktop").click()
    expect(page.locator("#notes-settings-exceptions")).to_have_text("invoice: not by desktop Reset")
    front.bring_to_front()
    muted = send(alice, kind="chat", title="muted chat")
    no_desktop = send(alice, kind="invoice", title="no desktop invoice")
    assert seen(page, muted) == "none"
    assert seen(page, no_desktop) == "toast"
    assert [n["title"] for n in page.evaluate("window.__shown")] == [title]

    # Turned off in the bell: back to toasts only.
    page.bring_to_front()
    page.get_by_role("button", name="Turn off desktop notifications").click()
    front.bring_to_front()
    off = send(alice, title="after turning off")
    assert seen(page, off) == "toast"
    assert len(page.evaluate("window.__shown")) == 1


def test_two_hidden_tabs_show_one_notification_per_note(tabs, users):
    bob = users("bob")
    tabs.permission("granted")
    first = tabs.open()
    log_in(first, tabs.origin, bob.username)
    turn_on(first)
    second = tabs.open()
    wait_live(second)
    tabs.open(None)  # a tab of another page in front of both
    assert visibility(first) == visibility(second) == "hidden"

    ids = [send(bob, title=f"note {i}") for i in range(3)]
    made = {note_id: {seen(first, note_id), seen(second, note_id)} for note_id in ids}
    assert made == {note_id: {"desktop", "elsewhere"} for note_id in ids}
    shown = first.evaluate("window.__shown") + second.evaluate("window.__shown")
    assert sorted(n["title"] for n in shown) == ["note 0", "note 1", "note 2"]

    # With one of the site's tabs in front, that tab toasts and no tab notifies.
    second.bring_to_front()
    visible = send(bob, title="one tab in front")
    assert seen(first, visible) == "toast"  # waits, hidden, for the user to come back
    assert seen(second, visible) == "toast"
    assert len(first.evaluate("window.__shown") + second.evaluate("window.__shown")) == 3


def test_clicking_a_notification_focuses_the_tab_and_opens_the_note(tabs, users):
    carol = users("carol")
    tabs.permission("granted")
    page = tabs.open()
    log_in(page, tabs.origin, carol.username)
    turn_on(page)
    tabs.open(None)

    unsafe = send(carol, title="unsafe link", url="javascript:alert(1)")
    assert seen(page, unsafe) == "desktop"
    page.evaluate("window.__last.dispatchEvent(new Event('click'))")
    assert page.evaluate("sessionStorage.getItem('focused')") == "1"
    assert page.url == tabs.origin + "/"  # a javascript: url is never opened

    target = send(carol, title="open me", url="/notes/?from=desktop")
    assert seen(page, target) == "desktop"
    with page.expect_navigation(url=re.compile(r"/notes/\?from=desktop$")):
        page.evaluate("window.__last.dispatchEvent(new Event('click'))")
    assert page.evaluate("sessionStorage.getItem('focused')") == "2"
    # Opening it marked it read, as clicking a toast does.
    status = json.loads(page.evaluate("fetch('/api/notes/?limit=5').then((r) => r.text())"))
    assert {n["id"]: n["read"] for n in status["notes"]}[target] is True
