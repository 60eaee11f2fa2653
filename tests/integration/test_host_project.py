"""docs/integrate.md, followed literally: a new Django project gets live notes.

The product is installed from this repository, not editable, into a fresh
virtualenv; ``django-admin startproject`` makes the host, which has a custom
user model and ``ATOMIC_REQUESTS = True`` and runs on the suite's database
kind (SQLite, PostgreSQL or MariaDB, whichever ``DATABASE_URL`` names), with
channels-redis on Redis and two daphne processes. A note sent from a host
view reaches the WebSocket of the right user only, and shows as a toast in
Chromium.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from websockets.sync.client import connect

from tests.integration.host_project import HostProject, HostVenv, doc_blocks, unique_name
from tests.support.services import free_port, missing, port_open, redis_available

pytestmark = pytest.mark.timeout(900)

CHROMIUM = Path("/usr/bin/chromium")
PASSWORD = "a host's own password 42"


@pytest.fixture(scope="module")
def database(django_db_blocker):
    """A database of its own for the host, of the suite's kind; dropped afterwards."""
    from django.db import connection

    vendor = connection.vendor
    settings = connection.settings_dict
    if vendor == "sqlite":
        yield {"ENGINE": "django.db.backends.sqlite3", "NAME": "host.sqlite3"}, []
        return
    name = unique_name("host")
    with django_db_blocker.unblock(), connection._nodb_cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {name}")
    engine = {"postgresql": "django.db.backends.postgresql", "mysql": "django.db.backends.mysql"}
    config = {
        "ENGINE": engine[vendor],
        "NAME": name,
        "USER": settings["USER"],
        "PASSWORD": settings["PASSWORD"],
        "HOST": settings["HOST"],
        "PORT": str(settings["PORT"]),
    }
    if vendor == "mysql":
        config["OPTIONS"] = {"charset": "utf8mb4"}
    driver = {"postgresql": ["psycopg[binary]>=3.2,<4"], "mysql": ["mysqlclient>=2.2,<3"]}
    yield config, driver[vendor]
    with django_db_blocker.unblock(), connection._nodb_cursor() as cursor:
        if vendor == "postgresql":
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                [name],
            )
        cursor.execute(f"DROP DATABASE {name}")


@pytest.fixture(scope="module")
def host(tmp_path_factory, database, redis_url):
    config, drivers = database
    venv = HostVenv(tmp_path_factory.mktemp("venv"), drivers)
    project = HostProject(
        venv, tmp_path_factory.mktemp("mysite"), config, layer_prefix=unique_name("host")
    )
    project.host_setup()
    applied = project.follow_the_guide()
    project.after_the_guide()
    assert len(applied) == len(doc_blocks()) >= 5
    project.manage("check", "--fail-level", "WARNING")
    project.manage("makemigrations", "accounts")
    # Nothing for our apps: their migrations fit any host (custom user, another
    # DEFAULT_AUTO_FIELD), and nothing is written into the installed package.
    project.manage("makemigrations", "--check", "--dry-run")
    project.manage("migrate", "--noinput")
    project.manage("collectstatic", "--noinput", "-v0")
    project.manage(
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model; U = get_user_model();"
        f"[U.objects.create_user(n, password={PASSWORD!r}) for n in ('alice', 'bob')]",
    )
    return project


class Daphne:
    """``daphne mysite.asgi:application`` from the host's virtualenv."""

    def __init__(self, project: HostProject) -> None:
        self.port = free_port()
        self.log = project.root / f"daphne-{self.port}.log"
        self.proc = subprocess.Popen(
            [
                project.venv.bin("daphne"),
                "-b",
                "127.0.0.1",
                "-p",
                str(self.port),
                "mysite.asgi:application",
            ],
            cwd=project.root,
            env=project.env,
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while not port_open(self.port):
            assert self.proc.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, self.log.read_text()
            time.sleep(0.1)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str) -> dict:
        with urllib.request.urlopen(self.url + path, timeout=10) as response:
            return json.loads(response.read())

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(15)


@pytest.fixture(scope="module")
def servers(host):
    if not redis_available("redis://127.0.0.1:6379/0"):
        missing("Redis is not reachable at 127.0.0.1:6379 (the guide's CHANNEL_LAYERS)")
    pair = [Daphne(host), Daphne(host)]
    yield pair
    for server in pair:
        server.stop()


def token_for(host: HostProject, username: str) -> str:
    return host.manage("issue_token", username).strip().splitlines()[-1]


def frames_until(sock, predicate, timeout: float = 10) -> list[dict]:
    seen: list[dict] = []
    deadline = time.monotonic() + timeout
    while not predicate(seen):
        remaining = deadline - time.monotonic()
        assert remaining > 0, seen
        seen.append(json.loads(sock.recv(timeout=remaining)))
    return seen


def test_a_note_from_a_host_view_reaches_the_right_user_only_through_either_process(host, servers):
    a, b = servers
    ws = "ws://127.0.0.1:{}/ws/notes/"
    with (
        connect(
            ws.format(a.port),
            additional_headers={"Authorization": f"Bearer {token_for(host, 'alice')}"},
        ) as alice,
        connect(
            ws.format(b.port),
            additional_headers={"Authorization": f"Bearer {token_for(host, 'bob')}"},
        ) as bob,
    ):
        for sock in (alice, bob):
            frames_until(sock, lambda seen: seen and seen[-1]["type"] == "synced")
        # Sent by process A's view, with ATOMIC_REQUESTS; bob is on process B.
        assert a.get("/poke/bob/?title=Only+for+bob") == {"poked": "bob"}
        got = frames_until(bob, lambda seen: any(f["type"] == "note" for f in seen))
        [note] = [f["note"] for f in got if f["type"] == "note"]
        assert (note["title"], note["public"], note["kind"]) == ("Only for bob", False, "host.poke")
        # A public note after it: alice's socket is live, and the private one never came.
        assert b.get("/announce/?title=For+everyone") == {"announced": True}
        seen = frames_until(alice, lambda seen: any(f["type"] == "note" for f in seen))
        assert [f["note"]["title"] for f in seen if f["type"] == "note"] == ["For everyone"]


def test_the_toast_shows_on_the_hosts_own_page(host, servers):
    a, b = servers
    if not CHROMIUM.exists():
        missing(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        problems: list[str] = []
        page = browser.new_page()
        page.on("pageerror", lambda error: problems.append(str(error)))
        # Every response of ours must be found (the browser's own /favicon.ico is the host's).
        page.on(
            "response",
            lambda r: (
                problems.append(f"{r.status} {r.url}")
                if r.status >= 400 and not r.url.endswith("/favicon.ico")
                else None
            ),
        )
        page.goto(f"{b.url}/accounts/login/")
        page.fill("input[name=username]", "bob")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        expect(page.locator("#notes-live")).to_have_attribute("data-state", "live", timeout=10_000)
        expect(page.locator("#notes-bell")).to_be_visible()
        unread = int(page.locator("#notes-bell-count").text_content())
        a.get("/poke/bob/?title=A+toast+for+bob")
        toast = page.locator("#notes-toasts .toast")
        expect(toast.locator(".toast-title")).to_have_text("A toast for bob", timeout=10_000)
        expect(page.locator("#notes-bell-count")).to_have_text(str(unread + 1))
        browser.close()
    assert problems == []
