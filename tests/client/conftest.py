"""The client against real daphne processes, on committed data (see tests/e2e/conftest.py)."""

from tests.e2e.conftest import e2e_db, server, start_server  # noqa: F401
