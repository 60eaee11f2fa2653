"""The lean WebSocket client of the load generator: one ``asyncio.Protocol`` per socket.

A general client (``websockets``) costs tens of microseconds per frame in
parsing, UTF-8 checks and task wake-ups; thousands of them sharing two cores
with the server would measure the client, not the server. This one does the
minimum a benchmark needs: send the upgrade request, find the end of the
``101`` response, cut unmasked server frames out of the byte stream, stamp
each note frame with ``time.monotonic()`` (one clock for every process on
the machine) and pull out its ``"id"`` without decoding the JSON. It answers
pings and close frames, so servers keep it as an ordinary client.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import time
from collections.abc import Callable

# A note frame: {"type":"note","note":{"id":43,...}} (any JSON spacing, as peers use json.dumps).
NOTE_ID = re.compile(rb'"id":\s*(\d+)')
SYNCED = b'"synced"'

OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 1, 2, 8, 9, 10


def upgrade_request(host: str, port: int, path: str, headers: dict[str, str]) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: {host}:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def client_frame(opcode: int, payload: bytes = b"") -> bytes:
    """A masked frame (clients must mask); only short control frames are ever sent."""
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes((0x80 | opcode, 0x80 | len(payload))) + mask + masked


class LeanClient(asyncio.Protocol):
    """One socket. ``ready`` resolves when it counts as connected (see ``until_synced``).

    ``until_synced``: our server sends hello, replay and ``synced``; a client is
    connected once it has ``synced`` (it would get live notes from then on).
    The peers send nothing at connect, so the ``101`` is the moment.
    """

    def __init__(
        self,
        tag: int,
        request: bytes,
        *,
        until_synced: bool,
        on_note: Callable[[LeanClient, int, float], None],
    ) -> None:
        self.tag = tag
        self.request = request
        self.until_synced = until_synced
        self.on_note = on_note
        self.ready: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.upgraded = False
        self.receipts: list[tuple[int, float]] = []
        self.started = time.monotonic()
        self.closing = False  # we asked for it
        self.lost = False  # the server dropped or closed us

    # asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        self.buffer += data
        if not self.upgraded:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(self.buffer[: self.buffer.find(b"\r\n")])
            del self.buffer[: end + 4]
            if not status.startswith(b"HTTP/1.1 101"):
                self._fail(f"upgrade refused: {status.decode('latin-1')[:60]}")
                return
            self.upgraded = True
            if not self.until_synced:
                self._set_ready(now)
        self._frames(now)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closing:
            self.lost = True
        self._fail(f"connection lost: {exc!r}" if exc else "connection closed by server")

    # frames

    def _frames(self, now: float) -> None:
        buf = self.buffer
        pos, size = 0, len(buf)
        while size - pos >= 2:
            first, length = buf[pos], buf[pos + 1] & 0x7F
            head = 2
            if length == 126:
                if size - pos < 4:
                    break
                length, head = int.from_bytes(buf[pos + 2 : pos + 4], "big"), 4
            elif length == 127:
                if size - pos < 10:
                    break
                length, head = int.from_bytes(buf[pos + 2 : pos + 10], "big"), 10
            if size - pos < head + length:
                break
            payload = bytes(buf[pos + head : pos + head + length])
            pos += head + length
            self._frame(first & 0x0F, payload, now)
        if pos:
            del buf[:pos]

    def _frame(self, opcode: int, payload: bytes, now: float) -> None:
        if opcode == OP_TEXT:
            match = NOTE_ID.search(payload)
            if match is not None and b'"note"' in payload:
                note_id = int(match.group(1))
                self.receipts.append((note_id, now))
                self.on_note(self, note_id, now)
            elif self.until_synced and SYNCED in payload:
                self._set_ready(now)
        elif opcode == OP_PING:
            self.transport.write(client_frame(OP_PONG, payload))
        elif opcode == OP_CLOSE:
            if not self.closing:
                self.lost = True
                self.transport.write(client_frame(OP_CLOSE, payload[:2]))
            self.transport.close()

    # helpers

    def _set_ready(self, now: float) -> None:
        if not self.ready.done():
            self.ready.set_result(now)

    def _fail(self, reason: str) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(reason))

    def close(self) -> None:
        self.closing = True
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(client_frame(OP_CLOSE, (1000).to_bytes(2, "big")))
            self.transport.close()
