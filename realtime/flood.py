"""Per-connection flood control.

A token bucket refills at ``rate`` frames per second up to ``burst``. A frame
that finds it empty is dropped with a ``rate_limited`` error before any work is
done, so a flooding client costs little; ``strikes`` dropped frames in a row
close the connection with 1008.
"""

from __future__ import annotations

import time


class FloodGuard:
    def __init__(self, *, rate: float, burst: int, strikes: int) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.max_strikes = strikes
        self.tokens = float(burst)
        self.strikes = 0
        self.stamp = time.monotonic()

    def admit(self) -> bool:
        """True to process this frame, False to drop it (then check :attr:`exhausted`)."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            self.strikes = 0
            return True
        self.strikes += 1
        return False

    @property
    def exhausted(self) -> bool:
        return self.strikes > self.max_strikes
