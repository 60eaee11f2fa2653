"""The page at ``/`` in a real Chromium: live toasts, the bell and the inbox.

One daphne process (in-memory layer, like ``make run``); every test logs in
through the page's own login form and gets news from another user through
the JSON API, as a second person on another machine would.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from note.credentials import credentials_end_all
from tests.frontend.conftest import log_in, make_poster, orm, screenshot, wait_live
from tests.support.http import post_news

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def poster(e2e_db):
    """Another user, publishing through the API with a token: (user, token)."""
    return make_poster("bob")


def toast_for(page, news: dict):
    return page.locator(".toast", has=page.locator(f'a[href$="/news/{news["id"]}/"]'))


def test_toast_appears_within_two_seconds_and_the_bell_counts_it(server, open_page, users, poster):
    bob, token = poster
    post_news(server, token, "Welcome to the new intranet", "Say hello in the comments.")
    post_news(server, token, "Coffee machine fixed")
    alice = users("alice", exact=True)  # joined after those two: they are not unread for her
    page = open_page(server)
    log_in(page, alice.username)
    expect(page.locator(".news-list li")).to_have_count(2)
    expect(page.locator("#notes-bell-count")).to_be_hidden()

    news = post_news(server, token, "Standup moved to 10:30", "Same room, bring coffee.")

    toast = toast_for(page, news)
    expect(toast).to_be_visible(timeout=2_000)
    expect(toast.locator(".toast-actor")).to_have_text(bob.username)
    expect(toast.locator(".toast-title")).to_have_text(
        f"{bob.username} posted news: Standup moved to 10:30"
    )
    expect(toast.locator(".toast-content")).to_have_text("Same room, bring coffee.")
    expect(toast.locator("time")).to_have_text(re.compile(r"^(now|\d+ seconds? ago)$"))
    expect(page.locator("#notes-bell-count")).to_have_text("1")
    expect(page.locator("#notes-bell")).to_have_attribute("aria-label", "Notifications, 1 unread")
    # The toast sits in the polite live region, so screen readers announce it.
    expect(page.locator("#notes-toasts")).to_have_attribute("aria-live", "polite")
    screenshot(page, "toast.png")

    # Clicking the toast opens the news, and the note counts as read from then on.
    toast.locator(".toast-title").click()
    page.wait_for_url(f"**/news/{news['id']}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Standup moved to 10:30")
    wait_live(page)
    expect(page.locator("#notes-bell-count")).to_be_hidden()


def test_toast_dismiss_button_and_auto_dismiss_that_waits_while_hovered(
    server, open_page, users, poster
):
    _bob, token = poster
    alice = users("alice")
    page = open_page(server, path=None)
    page.clock.install()  # real time flows, but the test may jump it forward
    log_in(page, alice.username)

    first = post_news(server, token, "Closed by hand")
    toast = toast_for(page, first)
    expect(toast).to_be_visible()
    toast.get_by_role("button", name="Dismiss").click()
    expect(toast).to_have_count(0)

    second = post_news(server, token, "Read slowly")
    toast = toast_for(page, second)
    expect(toast).to_be_visible()
    toast.hover()
    page.clock.run_for(20_000)  # far past the toast's lifetime: hovering holds it
    expect(toast).to_be_visible()
    page.mouse.move(5, 400)  # the pointer leaves: the countdown resumes
    page.clock.run_for(7_000)
    expect(toast).to_have_count(0)

    third = post_news(server, token, "Left alone")
    toast = toast_for(page, third)
    expect(toast).to_be_visible()
    page.clock.run_for(7_000)
    expect(toast).to_have_count(0)


def test_at_most_four_toasts_are_stacked_newest_last(server, open_page, users, poster):
    _bob, token = poster
    alice = users("alice")
    page = open_page(server)
    log_in(page, alice.username)

    posted = [post_news(server, token, f"Burst {i}") for i in range(1, 7)]

    expect(toast_for(page, posted[-1])).to_be_visible()
    titles = page.locator("#notes-toasts .toast-title")
    expect(titles).to_have_text([re.compile(f"Burst {i}$") for i in range(3, 7)])
    expect(page.locator("#notes-bell-count")).to_have_text("6")


def test_inbox_marks_one_and_all_read_and_a_second_tab_follows(server, open_page, users, poster):
    bob, token = poster
    ana = users("ana", exact=True)
    tab1 = open_page(server)
    log_in(tab1, ana.username)
    tab2 = open_page(server, context=tab1.context)
    wait_live(tab2)

    posted = [
        post_news(server, token, "Lunch at noon", "Pizza on the 3rd floor."),
        post_news(server, token, "Release 2.4 is out", "Changelog on the wiki."),
        post_news(server, token, "Fire drill on Friday"),
    ]
    for tab in (tab1, tab2):
        expect(tab.locator("#notes-bell-count")).to_have_text("3")

    # Clear the toasts from the keyboard (and out of the picture): Enter on each "Dismiss".
    for _ in range(3):
        tab1.locator("#notes-toasts .toast-close").first.press("Enter")
    expect(tab1.locator("#notes-toasts .toast")).to_have_count(0)

    # Open the inbox from the keyboard: Tab to the bell, Enter.
    tab1.locator(".brand").focus()
    tab1.keyboard.press("Tab")
    expect(tab1.locator("#notes-bell")).to_be_focused()
    tab1.keyboard.press("Enter")
    inbox = tab1.locator("#notes-inbox")
    expect(inbox).to_be_visible()
    expect(tab1.locator("#notes-bell")).to_have_attribute("aria-expanded", "true")
    # Newest first; notes from before alice's account are listed too, already read.
    expect(inbox.locator(".inbox-item.is-unread")).to_have_count(3)
    items = inbox.locator(".inbox-item")
    for item, news in zip(items.all()[:3], reversed(posted), strict=True):
        expect(item.locator(".inbox-title")).to_have_text(
            f"{bob.username} posted news: {news['title']}"
        )
    expect(items.first.locator("a")).to_have_attribute(
        "href", re.compile(f"/news/{posted[-1]['id']}/$")
    )
    tab1.evaluate("() => window.scrollTo(0, 0)")
    screenshot(tab1, "inbox.png")

    # Mark one read: both tabs count 2.
    items.nth(1).get_by_role("button", name="Mark read").click()
    expect(items.nth(1)).not_to_have_class(re.compile("is-unread"))
    for tab in (tab1, tab2):
        expect(tab.locator("#notes-bell-count")).to_have_text("2")

    # Mark all read in the first tab: the second tab's bell goes to zero by itself.
    inbox.get_by_role("button", name="Mark all read").click()
    expect(inbox.locator(".inbox-item.is-unread")).to_have_count(0)
    for tab in (tab1, tab2):
        expect(tab.locator("#notes-bell-count")).to_be_hidden()
    expect(tab2.locator("#notes-bell")).to_have_attribute("aria-label", "Notifications, 0 unread")

    # Escape closes the inbox and gives the focus back to the bell.
    inbox.get_by_role("button", name="Mark all read").focus()
    tab1.keyboard.press("Escape")
    expect(inbox).to_be_hidden()
    expect(tab1.locator("#notes-bell")).to_be_focused()


def test_news_posted_with_the_page_form_reaches_other_readers(server, open_page, users):
    author = users("carol")
    reader = users("dave")
    page = open_page(server)
    log_in(page, author.username)
    other = open_page(server)
    log_in(other, reader.username)

    page.get_by_label("Title").fill("Posted from the page")
    page.get_by_label("Content").fill("Typed into the form.")
    page.get_by_role("button", name="Publish").click()
    page.wait_for_url(re.compile(r"/$"))
    expect(page.locator(".flash")).to_have_text("Your news is published.")
    expect(page.locator(".news-list li").first).to_contain_text("Posted from the page")
    # The author's reloaded page replays the note (it came after the last id
    # seen) and counts it, but one's own post makes no toast.
    wait_live(page)
    expect(page.locator("#notes-bell-count")).to_have_text("1")
    expect(page.locator("#notes-toasts .toast")).to_have_count(0)

    toast = other.locator(".toast", has_text="Posted from the page")
    expect(toast).to_be_visible()
    expect(toast.locator(".toast-actor")).to_have_text(author.username)
    # The reader's list is older than the news: a button offers the fresh list.
    fresh = other.locator("#news-fresh")
    expect(fresh).to_have_text("Show new news (1)")
    fresh.click()
    expect(other.locator(".news-list li").first).to_contain_text("Posted from the page")


def test_logging_out_in_one_tab_turns_the_other_tab_anonymous(server, open_page, users):
    alice = users("alice")
    tab1 = open_page(server)
    log_in(tab1, alice.username)
    tab2 = open_page(server, context=tab1.context)
    wait_live(tab2)
    expect(tab2.locator("#notes-bell")).to_be_visible()

    tab1.get_by_role("button", name="Log out").click()
    tab1.wait_for_url(re.compile(r"/$"))

    # The server closes the second tab's socket; it reconnects as nobody and
    # reloads, instead of showing a bell for an account that is gone.
    expect(tab2.locator("#notes-bell")).to_have_count(0)
    expect(tab2.get_by_role("navigation").get_by_role("link", name="Log in")).to_be_visible()
    wait_live(tab2)


def test_logged_out_everywhere_an_open_page_turns_anonymous(server, open_page, users):
    alice = users("alice")
    page = open_page(server)
    log_in(page, alice.username)
    wait_live(page)
    expect(page.locator("#notes-bell")).to_be_visible()

    orm(credentials_end_all, user=alice)

    # The socket is closed with 4401; the client stops and the page reloads as nobody.
    expect(page.locator("#notes-bell")).to_have_count(0)
    expect(page.get_by_role("navigation").get_by_role("link", name="Log in")).to_be_visible()
    wait_live(page)


def test_anonymous_visitors_get_toasts_but_no_bell(server, open_page, poster):
    _bob, token = poster
    page = open_page(server)
    wait_live(page)
    expect(page.locator("#notes-bell")).to_have_count(0)
    expect(page.get_by_role("button", name="Publish")).to_have_count(0)

    news = post_news(server, token, "Open day on Saturday")
    expect(toast_for(page, news)).to_be_visible()


def test_phone_width_has_no_sideways_scrolling(server, open_page, users, poster):
    _bob, token = poster
    alice = users("alice")
    page = open_page(server, viewport={"width": 390, "height": 760})
    log_in(page, alice.username)
    news = post_news(
        server,
        token,
        "A rather long headline that has to wrap on a narrow phone screen",
        "Toasts and the inbox span the screen instead of running off it.",
    )
    expect(toast_for(page, news)).to_be_visible()
    page.mouse.move(5, 5)
    screenshot(page, "phone.png")

    page.locator("#notes-bell").click()
    expect(page.locator("#notes-inbox .inbox-item")).not_to_have_count(0)
    width = page.evaluate("document.documentElement.clientWidth")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    for selector in ("#notes-inbox", "#notes-toasts .toast"):
        box = page.locator(selector).first.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, (selector, box)
