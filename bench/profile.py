"""Sampling a server under load with py-spy, and reading the samples.

``python -m bench --profile DIR`` records every server of the run
(``DIR/<server>[-storm].txt``, py-spy's collapsed "raw" format, and a
flame graph ``.svg`` made from it) without pausing the process
(``--nonblocking``), so the run's figures stay comparable.
``python -m bench.profile FILE`` prints where the time went: the functions
with the most samples of their own, and the share of each top-level phase.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path


class Recorder:
    def __init__(self, pid: int, path: Path) -> None:
        self.path = path
        binary = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        self.proc = subprocess.Popen(
            [
                binary,
                "record",
                "--nonblocking",
                "--rate",
                "200",
                "--format",
                "raw",
                "-o",
                str(path),
                "-p",
                str(pid),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def load(path: Path) -> list[tuple[list[str], int]]:
    stacks = []
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks.append((stack.split(";"), int(count)))
    return stacks


def summary(path: Path, top: int = 25) -> str:
    stacks = load(path)
    total = sum(count for _, count in stacks) or 1
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for frames, count in stacks:
        own[_short(frames[-1])] += count
        for name in {_short(f) for f in frames}:
            inclusive[name] += count
    lines = [f"{path.name}: {total} samples", "", "own time:"]
    lines += [f"  {100 * n / total:5.1f} %  {name}" for name, n in own.most_common(top)]
    lines += ["", "inclusive:"]
    lines += [f"  {100 * n / total:5.1f} %  {name}" for name, n in inclusive.most_common(top * 2)]
    return "\n".join(lines)


def _short(frame: str) -> str:
    """``func (path/to/site-packages/pkg/mod.py:12)`` -> ``func (pkg/mod.py)``."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "python3.11/", "/work/main/"):
        if marker in where:
            where = where.split(marker, 1)[1]
    return f"{name} ({where})"


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        print(summary(Path(arg)))
