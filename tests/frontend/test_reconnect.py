"""The page keeps itself connected, across a server restart and page loads: each note once."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.frontend.conftest import log_in, make_poster, orm, wait_live
from tests.support.http import post_news

pytestmark = pytest.mark.timeout(90)


def publish(author, title: str) -> int:
    """Publish straight into the database (the server may be down); returns the news id."""
    from news.services import news_publish

    return orm(news_publish, author=author, title=title).pk


def toast_ids(page) -> list[str]:
    return page.locator("#notes-toasts .toast").evaluate_all("ts => ts.map(t => t.dataset.noteId)")


@pytest.fixture(scope="module")
def own_server(start_server):
    """A server of this module's own, since the tests stop and start it."""
    return start_server()


def test_the_page_reconnects_after_a_restart_and_shows_what_it_missed_once(
    own_server, open_page, users
):
    bob, token = make_poster("bob")
    alice = users("alice")
    page = open_page(own_server)
    log_in(page, alice.username)
    before = post_news(own_server, token, "Before the restart")
    expect(page.locator(".toast", has_text="Before the restart")).to_be_visible()
    expect(page.locator("#notes-bell-count")).to_have_text("1")
    page.locator(".toast-close").click()

    own_server.stop()
    expect(page.locator("#notes-live")).to_have_attribute("data-state", "reconnecting")
    expect(page.locator("#notes-live .live-text")).to_have_text("Reconnecting…")
    missed = [publish(bob, f"While down {i}") for i in (1, 2, 3)]
    own_server.start()

    # Nobody touches the page: its back-off brings it back, resuming after the
    # last note it saw, so the three missed notes come, and the old one does not.
    expect(page.locator("#notes-live")).to_have_attribute("data-state", "live", timeout=30_000)
    titles = page.locator("#notes-toasts .toast-title")
    expect(titles).to_have_text([f"{bob.username} posted news: While down {i}" for i in (1, 2, 3)])
    expect(page.locator("#notes-bell-count")).to_have_text("4")
    links = page.locator("#notes-toasts a.toast-body")
    expect(links).to_have_count(3)
    for link, news_id in zip(links.all(), missed, strict=True):
        expect(link).to_have_attribute("href", re.compile(f"/news/{news_id}/$"))

    # And live notes flow again, still each once.
    after = post_news(own_server, token, "After the restart")
    expect(page.locator(".toast", has_text="After the restart")).to_be_visible()
    ids = toast_ids(page)
    assert len(ids) == len(set(ids)) == 4, ids
    expect(page.locator("#notes-bell-count")).to_have_text("5")
    assert before["id"] < after["id"]


def test_a_reloaded_page_resumes_from_the_last_note_it_saw(own_server, open_page, users):
    bob, token = make_poster("bea")
    alice = users("alice")
    page = open_page(own_server)
    log_in(page, alice.username)
    post_news(own_server, token, "Seen before leaving")
    expect(page.locator(".toast", has_text="Seen before leaving")).to_be_visible()
    context = page.context
    page.close()

    publish(bob, "Posted while the tab was closed")

    page = open_page(own_server, context=context)
    wait_live(page)
    expect(page.locator(".toast", has_text="Posted while the tab was closed")).to_be_visible()
    expect(page.locator(".toast", has_text="Seen before leaving")).to_have_count(0)
    expect(page.locator("#notes-toasts .toast")).to_have_count(1)
    expect(page.locator("#notes-bell-count")).to_have_text("2")

    # A plain reload has nothing new to show.
    page.reload()
    wait_live(page)
    page.wait_for_timeout(500)  # room for a wrongly replayed note to arrive
    expect(page.locator("#notes-toasts .toast")).to_have_count(0)
