"""The inbox page at /notes/ in a real Chromium: paging, filters, and actions that every
open tab follows live."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from note.services import note_create
from tests.frontend.conftest import log_in, orm, wait_live

pytestmark = pytest.mark.timeout(90)


def item(page, note):
    return page.locator(f'#notes-page-list li[data-id="{note.id}"]')


def test_archive_and_mark_unread_from_the_keyboard_reach_every_tab(server, open_page, users):
    alice = users("alice")
    [chat] = orm(note_create, kind="chat", title="<b>hi</b> from chat", recipients=[alice])
    [order] = orm(note_create, kind="order", title="Order shipped", recipients=[alice])
    page = open_page(server)
    log_in(page, alice.username)

    # The bell links to the full inbox.
    page.locator("#notes-bell").click()
    page.locator("#notes-inbox-all").click()
    page.wait_for_url("**/notes/")
    wait_live(page)
    other = open_page(server, context=page.context, path="/notes/")
    wait_live(other)
    for tab in (page, other):
        expect(item(tab, chat).locator(".notes-page-title")).to_have_text("<b>hi</b> from chat")
        expect(item(tab, order)).to_be_visible()

    # Keyboard only: focus the button, press Enter.
    item(page, order).locator(".notes-page-archive").focus()
    page.keyboard.press("Enter")
    for tab in (page, other):
        expect(item(tab, order)).to_have_count(0)

    item(other, chat).locator(".notes-page-read").focus()
    other.keyboard.press("Enter")
    for tab in (page, other):
        expect(item(tab, chat)).to_have_attribute("data-read", "true")
        expect(item(tab, chat).locator(".notes-page-read")).to_have_text("Mark unread")
    item(page, chat).locator(".notes-page-read").focus()
    page.keyboard.press("Enter")
    for tab in (page, other):
        expect(item(tab, chat)).to_have_attribute("data-read", "false")

    # The archived filter shows what was archived, with the way back.
    page.locator("#notes-filters input[name=archived]").check()
    expect(item(page, order).locator(".notes-page-archive")).to_have_text("Unarchive")
    expect(item(page, chat)).to_have_count(0)
    item(page, order).locator(".notes-page-archive").click()
    expect(item(page, order)).to_have_count(0)

    # A live note arrives at the top of the unfiltered list.
    orm(note_create, kind="order", title="Another order", recipients=[alice])
    expect(other.locator("#notes-page-list li").first).to_contain_text("Another order")


def test_the_page_pages_back_by_id_and_filters_by_kind(server, open_page, users):
    alice = users("pager")
    for i in range(25):
        orm(note_create, kind="a" if i % 2 else "b", title=f"note {i}", recipients=[alice])
    page = open_page(server)
    log_in(page, alice.username)
    page.goto("/notes/")
    rows = page.locator("#notes-page-list li")
    expect(rows).to_have_count(20)
    expect(rows.first).to_contain_text("note 24")
    page.locator("#notes-page-older").click()
    expect(rows).to_have_count(25)
    expect(page.locator("#notes-page-older")).to_be_hidden()
    page.locator("#notes-filters input[name=kind]").fill("a")
    page.locator("#notes-filters input[name=kind]").press("Enter")
    expect(rows).to_have_count(12)
    page.locator("#notes-filters input[name=unread]").check()
    expect(rows).to_have_count(12)


def test_the_page_needs_a_login(server, open_page):
    page = open_page(server, path="/notes/")
    page.wait_for_url("**/accounts/login/?next=/notes/")


def test_the_bells_settings_mute_a_kind_in_every_tab_and_muted_notes_do_not_toast(
    server, open_page, users
):
    alice = users("quiet")
    page = open_page(server)
    log_in(page, alice.username)
    other = open_page(server, context=page.context, path="/")
    wait_live(other)
    for tab in (page, other):
        tab.locator("#notes-bell").click()
        tab.locator("#notes-settings-toggle").click()
    page.locator("#notes-settings-kind").fill("chat")
    page.keyboard.press("Enter")
    for tab in (page, other):
        expect(tab.locator("#notes-settings-muted li")).to_have_text(["chat Unmute"])

    orm(note_create, kind="chat", title="muted chatter", recipients=[alice])
    orm(note_create, kind="order", title="Order shipped", recipients=[alice])
    for tab in (page, other):
        expect(tab.locator(".toast", has_text="Order shipped")).to_be_visible()
        expect(tab.locator(".toast", has_text="muted chatter")).to_have_count(0)
        expect(tab.locator("#notes-bell-count")).to_have_text("1")

    other.locator("#notes-settings-quiet").check()
    expect(page.locator("#notes-settings-quiet")).to_be_checked()
    page.locator("#notes-settings-muted li button").click()
    for tab in (page, other):
        expect(tab.locator("#notes-settings-muted li")).to_have_count(0)
        # Unmuting chat makes the earlier chat note count again.
        expect(tab.locator("#notes-bell-count")).to_have_text("2")


def test_delete_asks_once_more_from_the_keyboard_and_leaves_every_tab(server, open_page, users):
    alice = users("deleter")
    bob = users("keeper")
    [public] = orm(note_create, kind="news", title="For everyone")
    [mine] = orm(note_create, kind="chat", title="Just mine", recipients=[alice])
    page = open_page(server)
    log_in(page, alice.username)
    page.goto("/notes/")
    wait_live(page)
    other = open_page(server, context=page.context, path="/notes/")
    wait_live(other)
    other.locator("#notes-bell").click()  # the bell's list is open in the other tab
    expect(other.locator(f'#notes-inbox [data-note-id="{public.id}"]')).to_be_visible()

    button = item(page, public).locator(".notes-page-delete")
    button.focus()
    page.keyboard.press("Enter")
    expect(button).to_have_text("Delete for good?")
    page.keyboard.press("Escape")  # kept
    expect(button).to_have_text("Delete")
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")
    for tab in (page, other):
        expect(item(tab, public)).to_have_count(0)
    expect(other.locator(f'#notes-inbox [data-note-id="{public.id}"]')).to_have_count(0)
    # Focus moved on to the next note, so the keyboard user keeps going from there.
    expect(item(page, mine).locator(".notes-page-read")).to_be_focused()

    # The public note is only gone for alice.
    bobs = open_page(server)
    log_in(bobs, bob.username)
    bobs.goto("/notes/")
    expect(item(bobs, public)).to_be_visible()
    page.reload()
    expect(item(page, mine)).to_be_visible()
    expect(item(page, public)).to_have_count(0)
