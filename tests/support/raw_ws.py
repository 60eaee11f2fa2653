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

    def close(self) -> None:
        self.sock.close()
