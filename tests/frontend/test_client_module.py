"""notes-client.js on its own, used the way docs/frontend-client.md shows other pages using it."""

from __future__ import annotations

import pytest

from tests.frontend.conftest import make_poster, wait_live
from tests.support.http import post_news

pytestmark = pytest.mark.timeout(60)

MODULE = "/static/frontend/notes-client.js"


def test_the_documented_example_receives_notes_and_keeps_its_resume_point(server, open_page):
    bob, token = make_poster("bob")
    page = open_page(server, path="/accounts/login/")
    wait_live(page)
    page.evaluate(
        """async (module) => {
            const { NotesClient } = await import(module);
            window.received = [];
            window.states = [];
            const client = new NotesClient({ storageKey: "my-page:last-id" });
            client.addEventListener("note", ({ detail: note }) => window.received.push(note));
            client.addEventListener("state", ({ detail }) => window.states.push(detail.state));
            client.start();
            window.client = client;
        }""",
        MODULE,
    )
    page.wait_for_function("() => window.client.state === 'connected'")

    news = post_news(server, token, "Hello from the API", "plain text")

    page.wait_for_function("() => window.received.length === 1")
    note = page.evaluate("window.received[0]")
    assert note["title"] == f"{bob.username} posted news: Hello from the API"
    assert note["content"] == "plain text"
    assert note["url"] == f"/news/{news['id']}/"
    assert note["actor"] == bob.username
    assert page.evaluate("window.states") == ["connecting", "connected"]
    # The resume point is the note's id, kept where a reloaded page finds it.
    assert page.evaluate("localStorage.getItem('my-page:last-id')") == str(note["id"])
    assert page.evaluate("window.client.url()").endswith(f"/ws/notes/?after={note['id']}")
    page.evaluate("window.client.stop()")
    assert page.evaluate("window.client.state") == "disconnected"


def test_back_off_doubles_with_full_jitter_up_to_thirty_seconds(server, open_page):
    page = open_page(server, path="/accounts/login/")
    result = page.evaluate(
        """async (module) => {
            const { backoffDelay } = await import(module);
            const random = Math.random;
            try {
                Math.random = () => 0.999999;
                const highest = [...Array(12).keys()].map((n) => Math.round(backoffDelay(n)));
                Math.random = () => 0;
                const lowest = [...Array(12).keys()].map((n) => backoffDelay(n));
                Math.random = random;
                const spread = new Set([...Array(50)].map(() => backoffDelay(8)));
                return { highest, lowest, spread: spread.size };
            } finally {
                Math.random = random;
            }
        }""",
        MODULE,
    )
    assert result["highest"] == [500, 1000, 2000, 4000, 8000, 16000] + [30000] * 6
    assert result["lowest"] == [0] * 12
    assert result["spread"] > 40  # jitter: reconnecting clients don't arrive in step


def test_a_note_sent_twice_or_out_of_order_is_passed_on_once(server, open_page):
    """The real server never repeats an id; this feeds the client a stand-in socket that does."""
    page = open_page(server, path="/accounts/login/")
    received = page.evaluate(
        """async (module) => {
            const { NotesClient } = await import(module);
            class RepeatingSocket extends EventTarget {
                static CLOSING = 2;
                readyState = 1;
                constructor(url) {
                    super();
                    setTimeout(() => {
                        this.onopen?.();
                        const note = (id) => ({ type: "note", note: { id, title: `n${id}` } });
                        for (const frame of [
                            { type: "hello", protocol: 1, user: null, unread: 0, last_id: 7 },
                            note(5), note(5), note(4), note(6), note(6),
                            { type: "synced", last_id: 6 },
                            note(7), note(6), note(7),
                        ]) this.onmessage?.({ data: JSON.stringify(frame) });
                    });
                }
                send() {}
                close() { this.readyState = 3; }
            }
            const realSocket = window.WebSocket;
            window.WebSocket = RepeatingSocket;
            const storage = new Map([["k", "4"]]);
            const client = new NotesClient({
                storageKey: "k",
                storage: {
                    getItem: (k) => storage.get(k) ?? null,
                    setItem: (k, v) => storage.set(k, v),
                    removeItem: (k) => storage.delete(k),
                },
            });
            const ids = [];
            const done = new Promise((resolve) => {
                client.addEventListener("note", ({ detail }) => {
                    ids.push(detail.id);
                    if (detail.id === 7) setTimeout(resolve, 50);
                });
            });
            client.start();
            await done;
            client.stop();
            window.WebSocket = realSocket;
            return { ids, stored: storage.get("k"), url: client.url() };
        }""",
        MODULE,
    )
    assert received["ids"] == [5, 6, 7]
    assert received["stored"] == "7"
    assert received["url"].endswith("?after=7")


def test_a_rate_limited_close_waits_at_least_the_seconds_it_names(server, open_page):
    """4429 (RATE_LIMITED) says "retry after N s": the next attempt is N s away at least."""
    page = open_page(server, path="/accounts/login/")
    waits = page.evaluate(
        """async (module) => {
            const { NotesClient } = await import(module);
            class RefusedSocket extends EventTarget {
                static CLOSING = 2;
                readyState = 1;
                constructor(url) {
                    super();
                    setTimeout(() => {
                        this.readyState = 3;
                        this.onclose?.({ code: 4429, reason: "rate limited: x; retry after 3 s" });
                    });
                }
                send() {}
                close() { this.readyState = 3; }
            }
            const realSocket = window.WebSocket;
            window.WebSocket = RefusedSocket;
            try {
                const client = new NotesClient({ storageKey: "k" });
                const waits = [];
                const done = new Promise((resolve) => {
                    client.addEventListener("state", ({ detail }) => {
                        if (detail.retryIn != null) {
                            waits.push(detail.retryIn);
                            resolve();
                        }
                    });
                });
                client.start();
                await done;
                client.stop();
                return waits;
            } finally {
                window.WebSocket = realSocket;
            }
        }""",
        MODULE,
    )
    assert len(waits) == 1 and 3000 <= waits[0] <= 3500  # 3 s, plus the first back-off's jitter


def test_an_app_with_a_ticket_function_fetches_a_fresh_ticket_for_every_connection(
    server, open_page
):
    bob, token = make_poster("ticketbob")
    page = open_page(server, path="/accounts/login/")
    wait_live(page)
    page.evaluate(
        """async ([module, token]) => {
            const { NotesClient } = await import(module);
            window.tickets = [];
            window.hellos = [];
            const client = new NotesClient({
                storage: null,
                ticket: async () => {
                    const answer = await fetch("/api/notes/ticket/", {
                        method: "POST",
                        headers: { Authorization: `Bearer ${token}` },
                    });
                    const { ticket } = await answer.json();
                    window.tickets.push(ticket);
                    return ticket;
                },
            });
            client.addEventListener("hello", ({ detail }) => window.hellos.push(detail.user));
            client.start();
            window.client = client;
        }""",
        [MODULE, token],
    )
    page.wait_for_function("() => window.client.state === 'connected'")
    page.evaluate("window.client.stop(); window.client.start()")
    page.wait_for_function("() => window.hellos.length === 2")

    assert page.evaluate("window.hellos") == [bob.username, bob.username]
    tickets = page.evaluate("window.tickets")
    assert len(tickets) == 2 and tickets[0] != tickets[1]
