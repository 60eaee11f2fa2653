"""A small WebSocket client for tests, on the ``websockets`` library."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import websockets


async def connect(
    url: str,
    *,
    token: str | None = None,
    after: int | None = None,
    origin: str | None = None,
    headers: dict[str, str] | None = None,
    **kwargs,
):
    extra = dict(headers or {})
    if token is not None:
        extra["Authorization"] = f"Bearer {token}"
    if after is not None:
        url = f"{url}?after={after}"
    kwargs.setdefault("open_timeout", 10)
    kwargs.setdefault("max_size", 2**22)
    return await websockets.connect(url, additional_headers=extra, origin=origin, **kwargs)


async def recv(ws, timeout: float = 5.0) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def recv_skipping(ws, *kinds: str, timeout: float = 5.0) -> dict[str, Any]:
    """The next frame whose type is not one of ``kinds`` (what a v1 client does with
    frame types it does not know)."""
    while True:
        frame = await recv(ws, timeout)
        if frame["type"] not in kinds:
            return frame


async def handshake(ws, timeout: float = 10.0) -> tuple[dict, list[dict], dict]:
    """Read ``hello``, the replayed notes and ``synced``."""
    hello = await recv(ws, timeout)
    assert hello["type"] == "hello", hello
    notes = []
    while True:
        frame = await recv(ws, timeout)
        if frame["type"] == "synced":
            return hello, notes, frame
        assert frame["type"] == "note", frame
        notes.append(frame["note"])


async def notes_until(ws, predicate, timeout: float = 10.0) -> list[dict]:
    """Collect note payloads until ``predicate(collected)`` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    notes: list[dict] = []
    while not predicate(notes):
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise AssertionError(f"timed out; got {[n['id'] for n in notes]}")
        frame = await recv(ws, remaining)
        if frame["type"] == "note":
            notes.append(frame["note"])
    return notes


async def quiet(ws, seconds: float) -> list[dict]:
    """Every frame that arrives within ``seconds``."""
    frames = []
    try:
        while True:
            frames.append(await recv(ws, seconds))
    except TimeoutError:
        return frames
