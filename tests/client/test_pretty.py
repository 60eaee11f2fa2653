"""``--pretty`` prints what README.md shows, so the README and the program cannot drift.

The README's example block (after the ``pretty-example`` marker) is a command
line and its output. This test publishes the same news from the same users,
pins the notes' ``created`` to the times shown (read in ``TZ=UTC``), runs that
command against a real server, and compares line by line. Only what no test
can pin is masked on both sides: note ids, news ids and the server's port.
"""

from __future__ import annotations

import re
import shlex
from datetime import UTC, datetime
from pathlib import Path

from django.contrib.auth import get_user_model

from news.services import news_publish
from note.models import Note
from tests.client.listener import ROOT, Listener
from tests.support.data import make_user, make_user_with_token

README = ROOT / "README.md"
MARKER = "<!-- pretty-example:"
README_URL = "ws://127.0.0.1:8000/ws/notes/"

# What the README's example shows, as data: author, title, content, created (UTC).
NEWS = (
    (
        "alice",
        "Release 1.0",
        "It shipped. Thanks to everyone who tested the betas, and to the ops team "
        "for a quiet rollout.",
        datetime(2026, 11, 25, 9, 30, 4, 123456, tzinfo=UTC),
    ),
    (
        "bob",
        "Lunch at noon",
        "Pizza on the third floor.",
        datetime(2026, 11, 25, 9, 45, tzinfo=UTC),
    ),
)


def readme_example(readme: Path = README) -> tuple[list[str], list[str]]:
    """The example's arguments (after the program name) and its output lines."""
    text = readme.read_text(encoding="utf-8")
    assert MARKER in text, f"{readme} lost its {MARKER!r} comment"
    block = re.search(r"```\n(.*?)```", text[text.index(MARKER) :], re.S)
    assert block, "no fenced block after the pretty-example marker"
    command, *output = block.group(1).splitlines()
    assert command.startswith("$ notes-listen "), command
    return shlex.split(command[2:])[1:], output


def mask(line: str, port: int) -> str:
    line = re.sub(r"^#\d+ ", "#<id> ", line)
    line = re.sub(r"/news/\d+/", "/news/<id>/", line)
    return line.replace(f"//127.0.0.1:{port}/", "//127.0.0.1:<port>/")


def publish_readme_news() -> None:
    # The README runs with --after 0: every note the reader can see, and no others.
    Note.objects.all().delete()
    for username, title, content, created in NEWS:
        author, _ = get_user_model().objects.get_or_create(username=username)
        news = news_publish(author=author, title=title, content=content)
        Note.objects.filter(url=f"/news/{news.pk}/").update(created=created)


def run_pretty(args: list[str], *, token: str, count: int, tz: str) -> list[str]:
    client = Listener(*args, token=token, env={"TZ": tz})
    try:
        client.wait_for(lambda: len(client.out) >= count, what=f"{count} lines")
    finally:
        assert client.interrupt() == 130
    return client.out


def test_pretty_output_is_what_the_readme_shows(server):
    args, expected = readme_example()
    assert README_URL in args
    publish_readme_news()
    _, token = make_user_with_token("reader")
    args = [server.ws_url if arg == README_URL else arg for arg in args]

    printed = run_pretty(args, token=token, count=len(expected), tz="UTC")

    assert [mask(line, server.port) for line in printed] == [mask(line, 8000) for line in expected]


def test_pretty_shows_local_time_and_keeps_each_note_on_one_line(server):
    author = make_user("shouty")
    start = Note.objects.order_by("-id").values_list("id", flat=True).first() or 0
    news_publish(author=author, title="Two\nlines", content="red \x1b[31malert\x1b[0m\r\nbell\a")
    Note.objects.filter(id__gt=start).update(created=datetime(2026, 11, 25, 23, 50, tzinfo=UTC))
    _, token = make_user_with_token("reader")

    [line] = run_pretty(
        ["--url", server.ws_url, "--after", str(start), "--pretty"],
        token=token,
        count=1,
        tz="JST-9",  # POSIX: nine hours east of UTC, no tz database needed
    )

    assert line.startswith("#")
    assert " 2026-11-26 08:50 " in line  # local time, the next day in Tokyo
    assert f"{author.username} posted news: Two lines — red [31malert [0m bell  http" in line
    assert not any(ord(ch) < 32 for ch in line)
