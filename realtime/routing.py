from channels.generic.websocket import AsyncWebsocketConsumer
from django.urls import path, re_path

from notes_client.protocol import CloseCode
from realtime.consumers import NotesConsumer

# Where the notes socket is, below the site's script prefix (the contract's /ws/notes/).
WEBSOCKET_PATH = "ws/notes/"


class NoSuchEndpoint(AsyncWebsocketConsumer):
    """Any other WebSocket path: a clear close code instead of Channels' "No route
    found" exception, which daphne turns into a traceback and an HTTP 500."""

    async def connect(self) -> None:
        await self.accept()
        # A plain int: autobahn refuses any other type, an IntEnum included.
        await self.close(code=int(CloseCode.NOT_FOUND), reason="no such endpoint; use /ws/notes/")


websocket_urlpatterns = [
    path(WEBSOCKET_PATH, NotesConsumer.as_asgi()),
    re_path(r"", NoSuchEndpoint.as_asgi()),
]
