"""``make demo`` beside ``make run``: a newcomer's open page gets toasts within seconds.

With the in-memory layer the demo process cannot reach the server's layer;
the notes still arrive because the server's hub reads the database every
``NOTES_CATCH_UP_SECONDS``. These tests run the real commands.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from tests.client.listener import ROOT
from tests.support import ws
from tests.support.http import BrowserSession
from tests.support.make_run import make_run
from tests.support.services import database_url_for_subprocess

POSTED = re.compile(r"^(\w+) posted news (\d+): (.+)$")


@pytest.fixture
def site(tmp_path):
    with make_run(tmp_path) as running:
        yield running


async def test_make_demo_brings_notes_to_the_page_of_make_run(site):
    env = site.env
    assert "in another terminal: make demo" in site.output()  # make run tells the newcomer

    browser = BrowserSession(site)
    await asyncio.to_thread(browser.login, "alice", "alice-demo-1")  # a login make run printed
    sock = await ws.connect(
        site.ws_url, origin=site.http_url, headers={"Cookie": browser.cookie_header()}
    )
    hello, _, _ = await ws.handshake(sock)
    assert hello["user"] == "alice"

    demo = await asyncio.create_subprocess_exec(
        shutil.which("make") or "make",
        "demo",
        "DEMO_ARGS=--count 3 --interval 0.3",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(demo.communicate(), 60)
    assert demo.returncode == 0, err.decode()
    posted = [m.groups() for m in map(POSTED.match, out.decode().splitlines()) if m]
    assert len(posted) == 3, out.decode()

    notes = await ws.notes_until(sock, lambda notes: len(notes) >= 3, timeout=15)
    await sock.close()
    assert [(n["actor"], n["title"], n["url"]) for n in notes] == [
        (user, f"{user} posted news: {title}", f"/news/{news_id}/")
        for user, news_id, title in posted
    ]
    assert {user for user, _, _ in posted} <= {"alice", "bob", "carol"}


def test_ctrl_c_stops_the_demo_between_two_items(e2e_db):
    env = {**os.environ, "DATABASE_URL": database_url_for_subprocess(), "PYTHONUNBUFFERED": "1"}
    env.pop("REDIS_URL", None)
    demo = subprocess.Popen(
        [sys.executable, "manage.py", "demo", "--interval", "60"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = []
        while not (lines and POSTED.match(lines[-1])):
            line = demo.stdout.readline()
            assert line, demo.stderr.read()
            lines.append(line.rstrip("\n"))
        demo.send_signal(signal.SIGINT)  # while it waits for the next item
        out, err = demo.communicate(timeout=15)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait(5)
    assert demo.returncode == 0
    assert out.splitlines() == ["Stopped after 1 item."]
    assert err == ""
    assert lines[0] == "Demo logins: alice / alice-demo-1, bob / bob-demo-1, carol / carol-demo-1"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"interval": -1.0}, "--interval must be 0 or more seconds"),
        ({"interval": float("nan")}, "--interval must be 0 or more seconds"),
        ({"count": -2}, "--count must be 0 or more"),
    ],
)
def test_the_demo_refuses_bad_options_with_a_message(options, message):
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("demo", **options)
