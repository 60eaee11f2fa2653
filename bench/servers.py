"""Starting, measuring and stopping the servers under test, each on a free port.

Every server is one process started by the bench and stopped by it (by its
own pid, SIGTERM then SIGKILL), with its output in a log file for the report.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.services import free_port, port_open

ROOT = Path(__file__).resolve().parent.parent

# The production command of docs/performance.md: a listen backlog that holds a
# connect storm (Twisted's default is 50) and a handshake timeout that does not
# turn a busy second into refused clients (daphne's default is 5 s). Everything
# else, logging included, stays at daphne's and the app's defaults.
DAPHNE_OPTIONS = ["--websocket_connect_timeout", "30"]


def daphne_command(app: str, port: int) -> list[str]:
    endpoint = f"tcp:port={port}:interface=127.0.0.1:backlog=2048"
    return [sys.executable, "-m", "daphne", "-e", endpoint, *DAPHNE_OPTIONS, app]


@dataclass
class ServerKind:
    """What to start: ``key`` names it in results, ``label`` in the tables."""

    key: str
    label: str
    argv: list[str] | None = None  # filled with the port by ``command``
    env: dict[str, str] = field(default_factory=dict)
    ours: bool = False  # our protocol: token auth, hello/synced, the API

    def command(self, port: int) -> list[str]:
        if self.key.startswith("ours"):
            return daphne_command("asgi:application", port)
        if self.key.startswith("tutorial"):
            return daphne_command("bench.peers.tutorial:application", port)
        return [sys.executable, "-m", "bench.peers.bare", str(port), *self.argv]


class Server:
    def __init__(self, kind: ServerKind) -> None:
        self.kind = kind
        self.port = free_port()
        self.log_path = Path(tempfile.mkstemp(prefix=f"bench-{kind.key}-", suffix=".log")[1])
        self.proc: subprocess.Popen | None = None
        self.recorder = None  # a bench.profile.Recorder when the run is profiled

    def start(self, timeout: float = 30.0) -> Server:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.kind.command(self.port),
                cwd=ROOT,
                env=self.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while not port_open(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.kind.label} did not start:\n{self.logs()[-3000:]}")
            time.sleep(0.05)
        return self

    def environment(self) -> dict[str, str]:
        """The bench's environment, without what it set for itself, plus the server's own."""
        env = {k: v for k, v in os.environ.items() if k != "LOG_LEVEL"}
        return {**env, **self.kind.env, "PYTHONUNBUFFERED": "1"}

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def rss_bytes(self) -> int:
        """Resident memory of the server process, from /proc."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS")

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")
