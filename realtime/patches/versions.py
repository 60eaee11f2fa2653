"""The releases the patches were written for: those the whole suite last ran against.

A range is widened only after the suite has passed on the new release (its
behaviour tests, ``tests/realtime/test_patches.py``, above all); pyproject.toml
bounds the same libraries so a fresh install gets one of these.
"""

DAPHNE = ">=4.2.2,<4.3"
TWISTED = ">=26.10,<27"
AUTOBAHN = ">=26.11,<27"
