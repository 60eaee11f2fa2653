"""``make run`` is the first command a newcomer types: it must serve the site."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

from tests.support.http import call
from tests.support.services import free_port, port_open

ROOT = Path(__file__).resolve().parents[2]


def test_make_run_serves_the_page_and_healthz_and_prints_the_demo_logins(tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'run.sqlite3'}",  # not the developer's db
        "MAKEFLAGS": "",
    }
    env.pop("REDIS_URL", None)  # `make run` is the one-process, in-memory set-up
    output = tmp_path / "make-run.log"
    with output.open("wb") as log:
        proc = subprocess.Popen(
            [shutil.which("make") or "make", "run", f"PORT={port}"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: make, daphne and all
        )
    try:
        deadline = time.monotonic() + 180  # a fresh machine creates .venv first
        while not port_open(port):
            assert proc.poll() is None, output.read_text()
            assert time.monotonic() < deadline, output.read_text()
            time.sleep(0.2)

        status, page = call(f"http://127.0.0.1:{port}/")
        assert status == 200 and "<html" in page.lower()
        status, health = call(f"http://127.0.0.1:{port}/healthz")
        assert (status, health) == (200, {"database": "ok", "channel_layer": "ok"})
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/static/frontend/style.css") as css:
            assert css.status == 200
        printed = output.read_text()
        for login in ("alice / alice-demo-1", "bob / bob-demo-1", "carol / carol-demo-1"):
            assert login in printed
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
