"""A WebSocket client on a bare TCP socket, for peers that misbehave on purpose.

``websockets`` reads in the background and answers pings by itself; a client
that never reads (or floods pings) has to be written by hand: the handshake,
masked frames out, and nothing read unless the test asks.
"""

from __future__ import annotations

import base64
import os
import socket
import struct
import time

PING = 0x9
TEXT = 0x1
CLOSE = 0x8


class RawWebSocket:
    def __init__(
        self,
        port: int,
        *,
        path: str = "/ws/notes/",
        token: str | None = None,
        receive_buffer: int = 4096,
    ) -> None:
        self.sock = socket.socket()
        # A small receive window, so what we do not read stays on the server's side.
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.sock.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: 127.0.0.1:{port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
        ]
        if token:
            lines.append(f"Authorization: Bearer {token}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        response = b""
        while b"\r\n\r\n" not in response:
            chunk = self.sock.recv(1)
            if not chunk:
                raise ConnectionError(f"handshake refused: {response!r}")
            response += chunk
        status = response.split(b"\r\n", 1)[0]
        if b" 101 " not in status:
            raise ConnectionError(f"handshake refused: {status!r}")

    def send_frame(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        size = len(payload)
        if size < 126:
            header = struct.pack("!BB", 0x80 | opcode, 0x80 | size)
        elif size < 1 << 16:
            header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, size)
        else:
            header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, size)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def closed_by_server(self, within: float) -> bool:
        """Read (and drop) what the server sent until it ends the connection; False if
        it still stands after ``within`` seconds."""
        deadline = time.monotonic() + within
        self.sock.settimeout(0.5)
        while time.monotonic() < deadline:
            try:
                if not self.sock.recv(1 << 16):
                    return True
            except TimeoutError:
                continue
            except OSError:
                return True
        return False

    def read_close_code(self, within: float) -> int | None:
        """Read the server's frames until its close frame and return its code, without
        answering it (None if none came within ``within`` seconds)."""
        self.sock.settimeout(within)
        try:
            return self.close_code_in(b"", self.sock)
        except TimeoutError:
            return None

    @staticmethod
    def close_code_in(data: bytes, sock: socket.socket) -> int | None:
        """The code of the first close frame in ``data`` and what follows on ``sock``."""
        while True:
            while len(data) < 2 or len(data) < _frame_size(data):
                chunk = sock.recv(1 << 16)
                if not chunk:
                    return None
                data += chunk
            size = _frame_size(data)
            frame, data = data[:size], data[size:]
            if frame[0] & 0x0F == CLOSE:
                payload = frame[size - (frame[1] & 0x7F) :] if frame[1] & 0x7F < 126 else b""
                return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005

    def close(self) -> None:
        self.sock.close()


def _frame_size(data: bytes) -> int:
    """Bytes of the unmasked server frame at the start of ``data`` (2 bytes or more);
    only its header's while the extended length has not all arrived."""
    length = data[1] & 0x7F
    if length < 126:
        return 2 + length
    extra = 2 if length == 126 else 8
    if len(data) < 2 + extra:
        return 2 + extra
    return 2 + extra + int.from_bytes(data[2 : 2 + extra], "big")


def upgrade_request(port: int, token: str) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        f"GET /ws/notes/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"Authorization: Bearer {token}\r\n\r\n"
    ).encode()


def read_close_code_after_upgrade(sock: socket.socket) -> int | None:
    """The close code of the first close frame after a 101 answer (None: no close frame)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            return None
        data += chunk
    head, _, frames = data.partition(b"\r\n\r\n")
    assert b" 101 " in head.split(b"\r\n", 1)[0], head
    return RawWebSocket.close_code_in(frames, sock)
