"""A real HTTP receiver for webhook tests: a server on a port, in a thread.

It records every POST (headers and raw body), answers with the status the
test sets, and can be taken down and brought back on the same port, so the
worker sees a refused connection and then the same URL working again.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.support.services import free_port


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict:
        return json.loads(self.body)

    @property
    def note_id(self) -> int:
        return self.json["note"]["id"]


class Receiver:
    """``with Receiver() as receiver:``; ``receiver.url``, ``.received``, ``.status``,
    ``.down()`` and ``.up()``."""

    def __init__(self, *, status: int = 200, delay: float = 0.0) -> None:
        self.port = free_port()
        self.status = status
        self.delay = delay  # seconds before each answer: a slow receiver
        self.endless = False  # answer with a body that never ends
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def up(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if receiver.delay:
                    time.sleep(receiver.delay)
                with receiver.lock:
                    status = receiver.status
                    if 200 <= status < 300:
                        receiver.received.append(Received(dict(self.headers.items()), body))
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "text/plain")
                    self.end_headers()
                    while receiver.endless and receiver.server is not None:
                        self.wfile.write(b"x" * 65536)
                    self.wfile.write(b"ok" if status < 300 else b"receiver says no")
                except OSError:
                    pass  # the worker hung up (a capped read, a timeout)

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            allow_reuse_address = True
            request_queue_size = 128  # a worker's whole pool connects at once

        self.server = Server(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def down(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def note_ids(self) -> list[int]:
        with self.lock:
            return [r.note_id for r in self.received]

    def __enter__(self) -> Receiver:
        return self.up()

    def __exit__(self, *exc) -> None:
        self.down()
