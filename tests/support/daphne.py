"""Real daphne processes for end-to-end tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from tests.support.services import free_port, port_open

ROOT = Path(__file__).resolve().parents[2]
LIMITS = (
    "LIMIT_LOGIN_PER_ADDRESS",
    "LIMIT_LOGIN_PER_USERNAME",
    "LIMIT_PUBLISH_PER_USER",
    "LIMIT_MARK_READ_PER_USER",
    "LIMIT_HANDSHAKES_PER_ADDRESS",
    "LIMIT_HANDSHAKES_PER_USER",
    "LIMIT_SOCKETS_PER_USER",
)


class DaphneServer:
    """``daphne asgi:application`` (or ``app``) on a free port, with the test database.

    ``stop()`` and ``start()`` keep the port, so clients can reconnect to the
    same URL after a restart.
    """

    def __init__(
        self,
        *,
        database_url: str,
        redis_url: str | None = None,
        layer_prefix: str = "rt-test",
        extra_env: dict[str, str | None] | None = None,
        app: str = "asgi:application",
        daphne_args: tuple[str, ...] = (),
        root: Path = ROOT,
    ) -> None:
        self.root = root  # the checkout it serves (bench/hostile.py also runs an older one)
        self.app = app
        self.daphne_args = daphne_args
        self.port = free_port()
        # What PostgreSQL shows in pg_stat_activity for this process's sessions.
        self.application_name = f"rt-daphne-{self.port}"
        self.env = {
            "PGAPPNAME": self.application_name,
            **os.environ,
            "DATABASE_URL": database_url,
            "DJANGO_DEBUG": "1",
            "CHANNEL_LAYER_PREFIX": layer_prefix,
            "LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
            # Many sockets and posts of one user from one address, faster than
            # anyone would: the limits are off unless a test sets them
            # (tests/e2e/test_limits.py).
            **dict.fromkeys(LIMITS, "off"),
            **(extra_env or {}),
        }
        self.env.pop("REDIS_URL", None)
        for name in [k for k, v in self.env.items() if v is None]:
            del self.env[name]  # extra_env={"DJANGO_DEBUG": None}: as a bare deployment
        if redis_url:
            self.env["REDIS_URL"] = redis_url
        self.log_path = Path(tempfile.mkstemp(prefix="rt-daphne-", suffix=".log")[1])
        self.proc: subprocess.Popen | None = None

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/notes/"

    def start(self, timeout: float = 30) -> DaphneServer:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(self.port),
                *self.daphne_args,
                self.app,
            ],
            cwd=self.root,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"daphne exited early:\n{self.logs()}")
            if port_open(self.port) and self._healthy():
                return self
            if time.monotonic() > deadline:
                raise RuntimeError(f"daphne did not come up:\n{self.logs()}")
            time.sleep(0.1)

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.http_url}/healthz", timeout=5) as response:
                return response.status in (200, 503)
        except urllib.error.HTTPError as exc:
            return exc.code == 503
        except OSError:
            return False

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None
        # Wait until the port is really free before a restart binds it again.
        deadline = time.monotonic() + 10
        while port_open(self.port) and time.monotonic() < deadline:
            time.sleep(0.05)

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def rss_mib(self) -> float:
        """The server process's resident memory."""
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")
