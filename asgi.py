"""The ASGI application: ``daphne asgi:application`` serves pages, API, static files and sockets."""

import gc
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from django.core.asgi import get_asgi_application

# Django first: it sets up apps before anything imports models.
django_application = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

from realtime import close_codes, shutdown  # noqa: E402
from realtime.gate import WebSocketGate  # noqa: E402
from realtime.hub import get_hub  # noqa: E402
from realtime.routing import websocket_urlpatterns  # noqa: E402

close_codes.install()
shutdown.install()

# daphne serves static files itself (no separate web server needed for `make run`).
pages_and_api = ASGIStaticFilesHandler(django_application)


async def http_application(scope, receive, send):
    """Start this process's hub with the first request.

    The hub binds the note publisher to the server's event loop, so the notes of
    a ``POST`` leave from this loop. Sockets start it themselves (the consumer
    calls ``get_hub()``); they are not wrapped here, because a wrapper's frame
    would stay alive, and take memory, for as long as each socket is open.
    """
    await get_hub()
    return await pages_and_api(scope, receive, send)


application = ProtocolTypeRouter(
    {
        "http": http_application,
        "websocket": WebSocketGate(URLRouter(websocket_urlpatterns)),
    }
)

# What start-up made (modules, classes, settings, the URL resolver) lives
# as long as the process. Frozen, it is left out of every full garbage
# collection, whose pause grows with each object it walks: about 96,000
# objects; with 2,000 idle sockets a full collection went from 214 to 171 ms
# (docs/performance.md, "Garbage collection"). No socket exists yet, so none
# of its objects, which do become garbage, are frozen.
gc.collect()
gc.freeze()

__all__ = ["application", "settings"]
