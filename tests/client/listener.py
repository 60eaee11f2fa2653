"""``notes-listen`` as a real subprocess, its output collected line by line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The client as this environment runs it; other tests pass the command another way.
NOTES_LISTEN = (sys.executable, "-m", "notes_client")


class Listener:
    """One run of the client. ``out`` and ``err`` fill up as the process writes."""

    def __init__(
        self,
        *args: str,
        token: str | None = None,
        env: dict[str, str] | None = None,
        command: Sequence[str] = NOTES_LISTEN,
        cwd: Path = ROOT,
    ):
        argv = [*command, *args]
        if token is not None:
            argv += ["--token", token]
        self.proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        self.out: list[str] = []
        self.err: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, self.out), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, self.err), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream, lines: list[str]) -> None:
        for line in stream:
            lines.append(line.rstrip("\n"))

    def notes(self) -> list[dict]:
        return [json.loads(line) for line in list(self.out)]

    def ids(self) -> list[int]:
        return [note["id"] for note in self.notes()]

    def wait_for(self, ready: Callable[[], bool], timeout: float = 30, what: str = "") -> None:
        """Poll until ``ready()``; fail with everything the client said so far."""
        deadline = time.monotonic() + timeout
        while not ready():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what or ready}\n{self.report()}")
            if self.proc.poll() is not None and not ready():
                time.sleep(0.2)  # let the readers drain
                if not ready():
                    raise AssertionError(f"the client exited early\n{self.report()}")
            time.sleep(0.05)

    def wait_for_stderr(self, text: str, timeout: float = 30) -> None:
        self.wait_for(lambda: any(text in line for line in self.err), timeout, repr(text))

    def finish(self, timeout: float = 30) -> int:
        """Wait for the exit; returns the exit code once both streams are read to the end."""
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise AssertionError(f"the client did not exit\n{self.report()}") from None
        for reader in self._readers:
            reader.join(5)
        return code

    def interrupt(self) -> int:
        """Ctrl-C: SIGINT to the client, as a terminal sends it."""
        self.proc.send_signal(signal.SIGINT)
        return self.finish()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def report(self) -> str:
        return "stdout:\n" + "\n".join(self.out) + "\nstderr:\n" + "\n".join(self.err)


def run_client(*args: str, timeout: float = 30, **kwargs) -> tuple[int, Listener]:
    """Run the client to its exit."""
    listener = Listener(*args, **kwargs)
    return listener.finish(timeout), listener
