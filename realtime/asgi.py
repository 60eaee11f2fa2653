"""``notes_application``: the host's ASGI application, with ``/ws/notes/`` beside it.

In a host's ``asgi.py``::

    from django.core.asgi import get_asgi_application
    django_application = get_asgi_application()  # first: it sets Django up

    from realtime.asgi import notes_application
    application = notes_application(django_application)

HTTP goes to the host's application, WebSockets to the notes consumer behind
the handshake limits and our gate (token or session, and the Origin rule).
The process's runtime (hub and publisher, ``realtime.runtime``) starts with
the first request or socket, or at start-up under a server that speaks the
ASGI lifespan protocol, which then also stops it; under daphne, daphne's own
shutdown stops it.
"""

from __future__ import annotations

from typing import Any

from channels.routing import ProtocolTypeRouter, URLRouter

from realtime import patches
from realtime.gate import WebSocketGate
from realtime.handshake_limits import AddressLimits
from realtime.routing import websocket_urlpatterns
from realtime.runtime import current_runtime, stop_runtime


def notes_application(http_application: Any) -> ProtocolTypeRouter:
    """Route ``http`` to ``http_application`` and ``websocket`` to the notes; patch daphne."""
    patches.install_all()

    async def http(scope, receive, send):
        # The runtime binds the note publisher to this loop, so the notes of
        # a POST leave from here. Sockets start it themselves; they are not
        # wrapped, because a wrapper's frame would live, and take memory, as
        # long as each socket is open.
        await current_runtime()
        return await http_application(scope, receive, send)

    return ProtocolTypeRouter(
        {
            "http": http,
            "websocket": AddressLimits(WebSocketGate(URLRouter(websocket_urlpatterns))),
            "lifespan": lifespan,
        }
    )


async def lifespan(scope, receive, send) -> None:
    """ASGI lifespan (uvicorn, hypercorn): start the runtime at start-up, stop it at shutdown."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await current_runtime()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await stop_runtime()
            await send({"type": "lifespan.shutdown.complete"})
            return
