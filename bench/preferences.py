"""What per-channel preferences cost on the broadcast path: ``python bench/preferences.py``.

Every live note is marked for each socket by its user's preferences
(``realtime.frames.marks``: ``muted``, then ``channels_off``), so that work is
paid once per socket per note. This prints, per call, the time of the mark
before channels existed (``muted`` alone) and with them, for a user with no
choices (the common case, which a cached flag answers) and for one with
channel choices; and ``delivers``, the question a digest asks per note.
CPU only, no I/O: run it on a quiet machine. ``docs/performance.md`` has a run.
"""

from __future__ import annotations

import os
import sys
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

from note.preferences import Preferences  # noqa: E402
from realtime import frames  # noqa: E402

CALLS = 200_000
DEFAULTS = {"*": ("toast", "desktop", "email")}


def per_call_ns(fn) -> float:
    """The best of five runs of CALLS calls, in nanoseconds per call."""
    return min(timeit.repeat(fn, number=CALLS, repeat=5)) / CALLS * 1e9


def main() -> None:
    plain = Preferences(channel_defaults=DEFAULTS)
    chosen = Preferences(
        channel_defaults=DEFAULTS,
        channels={"chat": {"desktop": False}, "*": {"email": False}},
        kinds={"order": True},
    )
    rows = [
        ("muted(kind) alone (before channels)", per_call_ns(lambda: plain.muted("chat"))),
        ("marks(): no choices", per_call_ns(lambda: frames.marks(plain, "chat"))),
        ("marks(): channel choices", per_call_ns(lambda: frames.marks(chosen, "chat"))),
        (
            "delivers(kind, 'email'): no choices",
            per_call_ns(lambda: plain.delivers("chat", "email")),
        ),
        ("delivers(kind, 'email'): choices", per_call_ns(lambda: chosen.delivers("chat", "email"))),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"{'per socket, per note':<{width}}  ns/call")
    for name, ns in rows:
        print(f"{name:<{width}}  {ns:7.0f}")


if __name__ == "__main__":
    main()
