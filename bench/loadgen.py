"""The load generator: several worker processes of lean clients, driven over pipes.

Each worker runs one event loop holding its share of the sockets
(:class:`bench.client.LeanClient`). The orchestrator (:class:`LoadPool`) sends
it small commands (connect these, how many have note N, hand over the
receipts, close) and never measures anything itself: every timestamp is
taken by a worker the moment the bytes arrive, on the machine-wide monotonic
clock, so it can be compared with the publish time taken in another process.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import resource
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bench.client import LeanClient, upgrade_request


@dataclass
class ClientSpec:
    """One socket to open: ``tag`` names it in the receipts (e.g. its user's id)."""

    tag: int
    path: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class ConnectResult:
    ok: int = 0
    failed: int = 0
    errors: Counter = field(default_factory=Counter)
    started: float = 0.0
    finished: float = 0.0  # monotonic time the last successful client was ready
    ready_times: list[float] = field(default_factory=list)  # seconds from start, per client

    def merge(self, other: ConnectResult) -> None:
        self.ok += other.ok
        self.failed += other.failed
        self.errors.update(other.errors)
        self.started = min(self.started or other.started, other.started or self.started)
        self.finished = max(self.finished, other.finished)
        self.ready_times.extend(other.ready_times)


# ---------------------------------------------------------------- worker side


class Worker:
    """The event loop of one worker process."""

    def __init__(self, conn) -> None:
        self.conn = conn
        self.clients: list[LeanClient] = []
        self.have: Counter[int] = Counter()  # note id -> clients that have it

    def on_note(self, client: LeanClient, note_id: int, now: float) -> None:
        self.have[note_id] += 1

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        inbox: asyncio.Queue = asyncio.Queue()
        loop.add_reader(self.conn.fileno(), lambda: inbox.put_nowait(self.conn.recv()))
        while True:
            command, *args = await inbox.get()
            if command == "quit":
                self._close_all()
                self.conn.send(None)
                return
            self.conn.send(await getattr(self, f"cmd_{command}")(*args))

    async def cmd_connect(
        self,
        host: str,
        port: int,
        specs: list[ClientSpec],
        until_synced: bool,
        batch: int,
        timeout: float,
    ) -> ConnectResult:
        """Open ``specs``: all at once (``batch`` = 0, a storm) or ``batch`` at a time."""
        loop = asyncio.get_running_loop()
        result = ConnectResult(started=time.monotonic())

        async def open_one(spec: ClientSpec) -> None:
            request = upgrade_request(host, port, spec.path, spec.headers)
            client = LeanClient(spec.tag, request, until_synced=until_synced, on_note=self.on_note)
            try:
                await asyncio.wait_for(loop.create_connection(lambda: client, host, port), timeout)
                ready = await asyncio.wait_for(
                    asyncio.shield(client.ready), timeout - (time.monotonic() - client.started)
                )
            except (OSError, TimeoutError, ConnectionError) as exc:
                result.failed += 1
                result.errors[_short(exc)] += 1
                client.close()
                return
            self.clients.append(client)
            result.ok += 1
            result.finished = max(result.finished, ready)
            result.ready_times.append(ready - result.started)

        step = batch or len(specs) or 1
        for i in range(0, len(specs), step):
            await asyncio.gather(*(open_one(spec) for spec in specs[i : i + step]))
        return result

    async def cmd_have(self, note_id: int) -> int:
        return self.have[note_id]

    async def cmd_total(self) -> int:
        """Note frames received since the last ``receipts``."""
        return sum(len(c.receipts) for c in self.clients)

    async def cmd_status(self) -> dict[str, int]:
        return {
            "clients": len(self.clients),
            "open": sum(1 for c in self.clients if not c.lost),
            "lost": sum(1 for c in self.clients if c.lost),
        }

    async def cmd_receipts(self) -> list[tuple[int, list[tuple[int, float]]]]:
        """Every client's (note id, time) pairs since the last call, then forget them."""
        out = [(c.tag, c.receipts) for c in self.clients]
        for client in self.clients:
            client.receipts = []
        self.have.clear()
        return out

    async def cmd_close(self) -> int:
        count = self._close_all()
        await asyncio.sleep(0.2)  # let the close frames go out
        return count

    def _close_all(self) -> int:
        count = len(self.clients)
        for client in self.clients:
            client.close()
        self.clients = []
        self.have.clear()
        return count


def _short(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timeout"
    return f"{type(exc).__name__}: {exc}"[:80]


def worker_main(conn) -> None:
    raise_fd_limit()
    asyncio.run(Worker(conn).run())


def raise_fd_limit() -> int:
    """Every socket is a file descriptor: 5,000 clients need more than the usual 1,024."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


# ---------------------------------------------------------------- orchestrator side


class LoadPool:
    """``size`` worker processes; commands go to all of them and answers are merged."""

    def __init__(self, size: int) -> None:
        ctx = multiprocessing.get_context("spawn")  # the orchestrator has threads: never fork
        self.pipes = []
        self.procs = []
        for i in range(size):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=worker_main, args=(child,), name=f"bench-load-{i}")
            proc.daemon = True
            proc.start()
            self.pipes.append(parent)
            self.procs.append(proc)

    def _all(self, *command: Any, per_worker: list[tuple] | None = None) -> list[Any]:
        for i, pipe in enumerate(self.pipes):
            pipe.send(command + (per_worker[i] if per_worker else ()))
        return [pipe.recv() for pipe in self.pipes]

    def connect(
        self,
        host: str,
        port: int,
        specs: list[ClientSpec],
        *,
        until_synced: bool,
        batch: int = 100,
        timeout: float = 60.0,
    ) -> ConnectResult:
        """Spread ``specs`` over the workers round-robin and open them; merged result."""
        shares = [specs[i :: len(self.pipes)] for i in range(len(self.pipes))]
        answers = self._all(
            "connect",
            host,
            port,
            per_worker=[(share, until_synced, batch, timeout) for share in shares],
        )
        merged = ConnectResult()
        for answer in answers:
            merged.merge(answer)
        return merged

    def have(self, note_id: int) -> int:
        return sum(self._all("have", note_id))

    def wait_for(self, note_id: int, count: int, timeout: float) -> bool:
        """Poll until ``count`` clients have ``note_id`` (pacing only: times come from receipts)."""
        deadline = time.monotonic() + timeout
        while self.have(note_id) < count:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def total(self) -> int:
        return sum(self._all("total"))

    def status(self) -> dict[str, int]:
        total: Counter[str] = Counter()
        for answer in self._all("status"):
            total.update(answer)
        return dict(total)

    def receipts(self) -> list[tuple[int, list[tuple[int, float]]]]:
        out: list[tuple[int, list[tuple[int, float]]]] = []
        for answer in self._all("receipts"):
            out.extend(answer)
        return out

    def close_clients(self) -> int:
        return sum(self._all("close"))

    def shutdown(self) -> None:
        for pipe in self.pipes:
            try:
                pipe.send(("quit",))
            except OSError:
                pass
        for proc in self.procs:
            proc.join(5)
            if proc.is_alive():
                proc.kill()
