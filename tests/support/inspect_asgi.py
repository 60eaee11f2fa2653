"""``asgi:application`` plus ``GET /__test__/objects?type=Name``: live objects by class name.

Served only by end-to-end tests that must look inside a real daphne process,
such as what an open WebSocket keeps alive. It collects garbage first, so
what it counts is what something still refers to.
"""

from __future__ import annotations

import gc
import json
from collections import Counter
from urllib.parse import parse_qs

from asgi import application as real_application

PATH = "/__test__/objects"


async def application(scope, receive, send):
    if scope["type"] != "http" or scope["path"] != PATH:
        return await real_application(scope, receive, send)
    names = parse_qs(scope["query_string"].decode()).get("type", [])
    gc.collect()
    alive = Counter(type(o).__qualname__ for o in gc.get_objects())
    body = json.dumps({name: alive[name] for name in names}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})
