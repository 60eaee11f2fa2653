"""FloodGuard: a burst is fine, a sustained flood is dropped, then cut off."""

import time

from realtime.flood import FloodGuard


def test_a_burst_passes_then_frames_are_dropped_and_strikes_end_it():
    guard = FloodGuard(rate=0.001, burst=3, strikes=2)
    assert [guard.admit() for _ in range(3)] == [True, True, True]
    assert guard.admit() is False and not guard.exhausted
    assert guard.admit() is False and not guard.exhausted
    assert guard.admit() is False and guard.exhausted


def test_the_bucket_refills_and_an_admitted_frame_forgives_strikes():
    guard = FloodGuard(rate=200, burst=1, strikes=5)
    assert guard.admit() is True
    assert guard.admit() is False
    time.sleep(0.05)  # 200/s: ten tokens' worth, capped at the burst of one
    assert guard.admit() is True
    assert guard.strikes == 0
