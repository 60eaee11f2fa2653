"""``make run`` as a newcomer starts it, on a free port and a fresh SQLite file."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.services import free_port, port_open

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class MakeRun:
    http_url: str
    ws_url: str
    env: dict[str, str]  # what the newcomer's shell had: for `make demo` beside it
    log_path: Path

    def output(self) -> str:
        return self.log_path.read_text()


@contextmanager
def make_run(tmp_path: Path) -> Iterator[MakeRun]:
    """Yield once the server answers; stop make, daphne and all afterwards."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'run.sqlite3'}", "MAKEFLAGS": ""}
    env.pop("REDIS_URL", None)  # `make run` is the one-process, in-memory set-up
    log_path = tmp_path / "make-run.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [shutil.which("make") or "make", "run", f"PORT={port}"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: make and daphne
        )
    try:
        deadline = time.monotonic() + 180  # a fresh machine creates .venv first
        while not port_open(port):
            assert proc.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.2)
        yield MakeRun(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/ws/notes/", env, log_path)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
