"""How Django serves HTTP under ASGI here: the middleware chain runs in one thread."""

from asgiref.sync import SyncToAsync
from django.core.handlers.asgi import ASGIHandler


def test_the_middleware_chain_is_one_trip_to_a_thread():
    # With every middleware async-capable, Django wraps each one's
    # process_request and process_response in its own trip from the event loop
    # to a thread and back (about fifteen per request), and each trip waits
    # behind a fan-out on the loop. The last middleware is sync-only
    # (frontend/csp.py), so Django adapts once, at the top of the chain.
    chain = ASGIHandler()._middleware_chain
    assert isinstance(chain, SyncToAsync), f"the chain starts on the event loop: {chain!r}"
