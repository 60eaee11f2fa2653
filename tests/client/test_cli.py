"""``notes-listen`` as a user runs it: a subprocess against real daphne processes."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from news.services import news_publish
from note.models import Note
from note.selectors import note_last_id
from tests.client.listener import ROOT, Listener, run_client
from tests.support.data import make_user, make_user_with_token
from tests.support.services import free_port

PHASES = ("before", "during", "while down", "after")


def publish(author, title: str) -> int:
    """Publish news as the page does (committed at once: ``e2e_db``); the new note's id."""
    news = news_publish(author=author, title=title, content=f"about {title}")
    return Note.objects.get(url=f"/news/{news.pk}/").id


def assert_no_traceback(listener: Listener) -> None:
    assert not any("Traceback" in line for line in listener.err), listener.report()


def test_notes_before_during_and_after_a_server_restart_come_out_once_in_id_order(start_server):
    server = start_server()  # its own: this test stops it
    _, token = make_user_with_token("listener")
    author = make_user("author")
    start = note_last_id()
    expected = [publish(author, f"before {i}") for i in range(2)]

    client = Listener("--url", server.ws_url, "--after", str(start), token=token)
    try:
        client.wait_for(lambda: len(client.out) >= 2, what="the notes from before")

        expected += [publish(author, f"during {i}") for i in range(2)]
        client.wait_for(lambda: len(client.out) >= 4, what="the notes from while connected")

        server.stop()  # SIGTERM: the server closes the socket (1001) and goes away
        client.wait_for_stderr("connection closed (code")
        expected += [publish(author, f"while down {i}") for i in range(2)]
        client.wait_for_stderr("cannot connect (connection refused)")
        server.start()  # on the same port

        client.wait_for(lambda: len(client.out) >= 6, timeout=60, what="the notes from downtime")
        expected += [publish(author, f"after {i}") for i in range(2)]
        client.wait_for(lambda: len(client.out) >= 8, what="the notes from after the restart")
        time.sleep(2.5)  # over twice the server's catch-up period: nothing more may come
    finally:
        code = client.interrupt()

    assert client.ids() == expected, client.report()
    assert [note["title"] for note in client.notes()] == [
        f"{author.username} posted news: {phase} {i}" for phase in PHASES for i in (0, 1)
    ]
    assert code == 130
    assert_no_traceback(client)


def test_without_after_it_prints_only_notes_created_from_now_on(server):
    _, token = make_user_with_token("listener")
    author = make_user("author")
    publish(author, "old news")
    client = Listener("--url", server.ws_url, token=token)
    try:
        client.wait_for_stderr("up to date")
        new = publish(author, "new news")
        client.wait_for(lambda: len(client.out) >= 1, what="the new note")
        time.sleep(1.5)
    finally:
        client.interrupt()
    assert client.ids() == [new], client.report()


def test_the_token_can_come_from_notes_token_and_sigterm_stops_with_0(server):
    _, token = make_user_with_token("env")
    client = Listener("--url", server.ws_url, "--after", "0", env={"NOTES_TOKEN": token})
    try:
        client.wait_for_stderr("up to date")
        assert any("as env-" in line for line in client.err), client.report()  # who we are
    finally:
        client.proc.send_signal(signal.SIGTERM)
        code = client.finish()
    assert code == 0
    assert_no_traceback(client)


def test_a_refused_token_exits_with_4_and_says_so(server):
    code, client = run_client("--url", server.ws_url, token="rtn_not-a-real-token")
    assert code == 4
    assert client.out == []
    assert client.err == [
        f"notes-listen: the server refused the token (HTTP 403 at {server.ws_url}); "
        "get a new one with: python manage.py issue_token USER"
    ]


def test_no_token_at_all_is_a_usage_error(server):
    code, client = run_client("--url", server.ws_url, env={"NOTES_TOKEN": ""})
    assert code == 2
    assert "give --token TOKEN or set NOTES_TOKEN" in client.err[-1]
    assert_no_traceback(client)


def test_an_after_that_is_no_note_id_is_a_usage_error():
    too_big = str(2**63)  # one past the largest note id
    code, client = run_client("--url", "ws://127.0.0.1:1/ws/notes/", "--after", too_big)
    assert code == 2
    assert f"argument --after: {too_big!r} is not a note id (0 or more)" in client.err[-1]
    assert_no_traceback(client)


def test_an_http_url_is_refused_with_the_ws_url_to_use_instead(server):
    http = f"{server.http_url}/ws/notes/"
    code, client = run_client("--url", http, token="rtn_whatever")
    assert code == 2
    assert client.err == [
        f"notes-listen: {http!r} is an HTTP URL; the notes endpoint is a WebSocket: {server.ws_url}"
    ]


def test_a_url_without_the_notes_endpoint_exits_with_2(server):
    _, token = make_user_with_token("lost")
    url = f"ws://127.0.0.1:{server.port}/no/such/endpoint/"
    code, client = run_client("--url", url, token=token)
    assert code == 2
    # The server closes other paths with 4404 at once: no retries.
    assert client.err[-1] == (
        f"notes-listen: no notes endpoint at {url}; it usually ends in /ws/notes/"
    )
    assert not any("retrying" in line for line in client.err)
    assert_no_traceback(client)
    assert "No route found" not in server.logs()


def test_nothing_listening_exits_with_3_after_a_few_attempts():
    url = f"ws://127.0.0.1:{free_port()}/ws/notes/"
    code, client = run_client("--url", url, token="rtn_whatever")
    assert code == 3
    assert client.err[-1] == (
        f"notes-listen: cannot connect to {url}: connection refused (3 attempts); "
        "is the server running?"
    )
    assert sum("retrying in" in line for line in client.err) == 2
    assert_no_traceback(client)


def test_ctrl_c_while_waiting_for_a_server_exits_cleanly():
    url = f"ws://127.0.0.1:{free_port()}/ws/notes/"
    client = Listener("--url", url, "--connect-attempts", "0", token="rtn_whatever")
    client.wait_for_stderr("retrying in")
    assert client.interrupt() == 130
    assert_no_traceback(client)
    assert client.out == []


def test_ctrl_c_while_connected_exits_cleanly(server):
    _, token = make_user_with_token("ctrl-c")
    client = Listener("--url", server.ws_url, "--after", "0", token=token)
    client.wait_for_stderr("up to date")
    assert client.interrupt() == 130
    assert all(line.startswith("notes-listen: ") for line in client.err), client.report()


@pytest.mark.parametrize("module", ["notes_client", "notes_client.cli", "realtime.client"])
def test_the_client_does_not_need_django(module):
    probe = (
        f"import sys, {module}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('django', 'channels')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_python_m_realtime_client_is_still_the_command(server):
    """The contract's command line from before the client became its own distribution."""
    _, token = make_user_with_token("old-name")
    start = note_last_id()
    expected = publish(make_user("author"), "for the old name")
    client = Listener(
        "--url",
        server.ws_url,
        "--after",
        str(start),
        token=token,
        command=(sys.executable, "-m", "realtime.client"),
    )
    try:
        client.wait_for(lambda: len(client.out) >= 1, what="the note")
    finally:
        code = client.interrupt()
    assert client.ids() == [expected], client.report()
    assert code == 130
    assert_no_traceback(client)
