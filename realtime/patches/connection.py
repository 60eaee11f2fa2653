"""Finding daphne's WebSocket protocol, and its TCP transport, behind an ASGI ``send``.

Daphne's ``send`` is ``functools.partial(protocol.handle_reply ...)`` with the
protocol as its first argument; Channels' session middleware wraps it for
browser sockets. Anything else (another server, the test communicator)
answers None, and callers take the ASGI path.
"""

from __future__ import annotations

import functools
from typing import Any


def daphne_protocol(send: Any) -> Any | None:
    """Daphne's WebSocket protocol behind an ASGI ``send`` (plain TCP or TLS), or None."""
    from channels.sessions import InstanceSessionWrapper

    wrapper = getattr(send, "__self__", None)
    if isinstance(wrapper, InstanceSessionWrapper):
        send = wrapper.real_send
    if not isinstance(send, functools.partial) or not send.args:
        return None
    try:
        from daphne.ws_protocol import WebSocketProtocol
    except ImportError:  # pragma: no cover - daphne is a dependency
        return None
    protocol = send.args[0]
    return protocol if isinstance(protocol, WebSocketProtocol) else None


def daphne_connection(send: Any) -> tuple[Any, Any] | None:
    """Daphne's WebSocket protocol and its plain TCP transport behind an ASGI ``send``."""
    from twisted.internet.tcp import Connection

    protocol = daphne_protocol(send)
    if protocol is None:
        return None
    transport = protocol.transport
    if not isinstance(transport, Connection) or transport.TLS:
        return None
    return protocol, transport
