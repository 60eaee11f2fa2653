"""Hostile and broken peers: ``python bench/hostile.py [--before PATH] [--database-url URL]``.

Each row of issue 19's list is tried against a real daphne process of this
checkout ("with": the limit holds it) and, given ``--before``, of an older
checkout ("without"), e.g. the commit before the issue's work::

    git worktree add /tmp/before b5ebf18
    python bench/hostile.py --before /tmp/before

Each checkout gets a database of its own, migrated and filled by its own
``manage.py`` (SQLite in a temporary folder, or ``--database-url`` naming a
PostgreSQL server, of which it makes databases ``hostile_with`` and
``hostile_without``). It prints the table of ``docs/reliability.md``: the
peer, the limit, and each figure (server memory, latency, close codes,
connections left behind) with and without it. ``--only NAME`` runs some rows.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import websockets

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.daphne import DaphneServer  # noqa: E402
from tests.support.http import call  # noqa: E402
from tests.support.metrics import scrape, value  # noqa: E402
from tests.support.raw_ws import (  # noqa: E402
    PING,
    RawWebSocket,
    read_close_code_after_upgrade,
    upgrade_request,
)
from tests.support.services import RedisServer  # noqa: E402

STRICT_FRAME_LIMIT = 64 * 1024
# The test's app whose sends fail for one socket, copied where either checkout finds it.
APPS = Path(tempfile.mkdtemp(prefix="hostile-apps-"))
(APPS / "failing_send.py").write_text(
    (ROOT / "tests" / "support" / "failing_send_asgi.py").read_text()
)


@dataclass
class Checkout:
    """One version of the server: its folder and its own database."""

    label: str
    root: Path
    database_url: str

    def shell(self, code: str) -> str:
        """Run ``code`` in this checkout's Django; the last line it printed."""
        result = subprocess.run(
            [sys.executable, "manage.py", "shell", "-v0", "-c", textwrap.dedent(code)],
            cwd=self.root,
            env=self.env(),
            capture_output=True,
            text=True,
            check=True,
        )
        return result.stdout.strip().splitlines()[-1]

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "REDIS_"))}
        env.update(DATABASE_URL=self.database_url, LOG_LEVEL="ERROR", DJANGO_DEBUG="1")
        return env

    def prepare(self) -> None:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
            cwd=self.root,
            env=self.env(),
            check=True,
        )

    def server(
        self, *, app: str = "asgi:application", redis_url: str | None = None, **env: str
    ) -> DaphneServer:
        server = DaphneServer(
            database_url=self.database_url,
            redis_url=redis_url,
            extra_env={"LOG_LEVEL": "WARNING", "METRICS_ALLOWED_IPS": "127.0.0.1", **env},
            app=app,
            root=self.root,
        )
        server.env.pop("DJANGO_SETTINGS_MODULE", None)  # each checkout's own default
        server.env["PYTHONPATH"] = os.pathsep.join([str(self.root), str(APPS)])
        return server.start()

    def token(self, name: str) -> str:
        """A new user's API token, through the command every version has."""
        username = f"{name}-{uuid.uuid4().hex[:6]}"
        result = subprocess.run(
            [sys.executable, "manage.py", "issue_token", "--create", username],
            cwd=self.root,
            env=self.env(),
            capture_output=True,
            text=True,
            check=True,
        )
        return result.stdout.split()[-1]

    def notes(self, count: int, *, content_bytes: int = 0) -> list[int]:
        out = self.shell(
            f"""
            from note.services import note_create
            content = "x" * {content_bytes}
            ids = [note_create(kind="b", title=f"history {{i}}", content=content)[0].id
                   for i in range({count})]
            print(ids[0], ids[-1])
            """
        ).split()
        return list(range(int(out[0]), int(out[1]) + 1))

    @contextlib.contextmanager
    def notes_table_locked(self) -> Iterator[None]:
        """Every query on the notes table waits (see tests/support/database.py)."""
        if self.database_url.startswith("sqlite:"):
            locker = sqlite3.connect(urlsplit(self.database_url).path, isolation_level=None)
            locker.execute("BEGIN EXCLUSIVE")
            try:
                yield
            finally:
                locker.execute("ROLLBACK")
                locker.close()
            return
        import psycopg

        with psycopg.connect(self.database_url.replace("postgres://", "postgresql://")) as locker:
            locker.execute("LOCK TABLE note_note IN ACCESS EXCLUSIVE MODE")
            yield
            locker.rollback()


def rss_mib(server: DaphneServer) -> float:
    return server.rss_mib()


def cpu_seconds(server: DaphneServer) -> float:
    fields = Path(f"/proc/{server.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def open_connections(server: DaphneServer) -> int:
    return int(value(scrape(server), "realtime_connections_open"))


async def close_code(sock, within: float) -> int | None:
    try:
        async with asyncio.timeout(within):
            while True:
                await sock.recv()
    except TimeoutError:
        return None
    except websockets.ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd is not None else 1006


async def connect(server, *, token=None, after=None, **kwargs):
    url = server.ws_url if after is None else f"{server.ws_url}?after={after}"
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    origin = None if token else server.http_url
    kwargs.setdefault("open_timeout", 30)
    return await websockets.connect(url, additional_headers=headers, origin=origin, **kwargs)


async def handshake(sock, within: float = 30) -> dict | None:
    """Frames up to ``synced`` (returned), or None if the socket closed first."""
    try:
        async with asyncio.timeout(within):
            while True:
                frame = json.loads(await sock.recv())
                if frame["type"] == "synced":
                    return frame
    except (websockets.ConnectionClosed, TimeoutError):
        return None


def codes(values) -> str:
    counted: dict[str, int] = {}
    for code in values:
        key = "open" if code is None else str(code)
        counted[key] = counted.get(key, 0) + 1
    return ", ".join(f"{n} x {code}" for code, n in sorted(counted.items()))


# The rows. Each takes a checkout and answers its figure as text.


async def poison_note(c: Checkout) -> str:
    server = c.server()
    token = await asyncio.to_thread(c.token, "poison")
    before = (await asyncio.to_thread(c.notes, 1))[0]
    rss = rss_mib(server)
    status, _ = await asyncio.to_thread(
        call,
        f"{server.http_url}/api/news/",
        method="POST",
        body={"title": "big", "content": "😀" * 20_000},
        token=token,
    )
    synced = 0
    for _ in range(100):
        try:
            sock = await connect(server, token=token, after=before, max_size=STRICT_FRAME_LIMIT)
            synced += await handshake(sock, within=10) is not None
            await sock.close()
        except (OSError, websockets.WebSocketException):
            pass
    await asyncio.sleep(2)
    left = await asyncio.to_thread(open_connections, server)
    grew = rss_mib(server) - rss
    server.stop()
    return (
        f"POST {status}; {synced}/100 resumes reach synced; "
        f"{left} connections left open; RSS +{grew:.0f} MiB"
    )


async def ping_flood(c: Checkout) -> str:
    server = c.server()
    token = await asyncio.to_thread(c.token, "pinger")
    baseline, peak = rss_mib(server), 0.0
    peer = RawWebSocket(server.port, token=token)
    cut_off = threading.Event()

    def flood() -> None:
        deadline = time.monotonic() + 17
        try:
            while time.monotonic() < deadline:
                for _ in range(200):
                    peer.send_frame(PING, b"p" * 125)
        except OSError:
            cut_off.set()

    sender = threading.Thread(target=flood, daemon=True)
    sender.start()
    began = time.monotonic()
    while sender.is_alive():
        peak = max(peak, rss_mib(server))
        await asyncio.sleep(0.2)
    took = time.monotonic() - began
    peer.close()
    server.stop()
    ended = f"cut off after {took:.0f} s" if cut_off.is_set() else "still open after 17 s"
    return f"RSS +{peak - baseline:.0f} MiB; {ended}"


async def silent_replays(c: Checkout) -> str:
    server = c.server(WS_DRAIN_TIMEOUT_SECONDS="30")
    await asyncio.to_thread(c.notes, 1500, content_bytes=8000)
    baseline, peak = rss_mib(server), 0.0
    # Anonymous, so with an Origin (RawWebSocket sends a token or nothing).
    peers = [_anonymous_raw(server, "/ws/notes/?after=0") for _ in range(50)]
    for _ in range(100):
        peak = max(peak, rss_mib(server))
        await asyncio.sleep(0.2)
    for peer in peers:
        peer.close()
    server.stop()
    return f"RSS +{peak - baseline:.0f} MiB in 20 s"


def _anonymous_raw(server, path: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    key = "dGhlIHNhbXBsZSBub25jZQ=="
    sock.sendall(
        (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Origin: {server.http_url}\r\n\r\n"
        ).encode()
    )
    return sock


async def deep_anonymous_replays(c: Checkout) -> str:
    server = c.server()
    token = await asyncio.to_thread(c.token, "reader")
    first = (await asyncio.to_thread(c.notes, 3000, content_bytes=500))[0]

    def api_ms() -> float:
        began = time.perf_counter()
        call(f"{server.http_url}/api/notes/?limit=20", token=token, timeout=120)
        return (time.perf_counter() - began) * 1000

    idle = statistics.median([await asyncio.to_thread(api_ms) for _ in range(20)])
    cpu = cpu_seconds(server)
    began = time.monotonic()
    replayed = [0] * 50

    async def replay(i: int) -> None:
        sock = await connect(server, after=first - 1, max_size=2**22, open_timeout=300)
        with contextlib.suppress(websockets.ConnectionClosed, TimeoutError):
            async with asyncio.timeout(300):
                while True:
                    frame = json.loads(await sock.recv())
                    if frame["type"] == "synced":
                        break
                    replayed[i] += frame["type"] == "note"
        await sock.close()

    replays = asyncio.gather(*(replay(i) for i in range(50)))
    busy = []
    while not replays.done() or len(busy) < 10:
        busy.append(await asyncio.to_thread(api_ms))
    await replays
    took = time.monotonic() - began
    cpu = cpu_seconds(server) - cpu
    server.stop()
    return (
        f"{sum(replayed):,} notes sent in {took:.1f} s, server CPU {cpu:.1f} s; "
        f"GET /api/notes/ p50 {idle:.0f} → {statistics.median(busy):.0f} ms meanwhile"
    )


async def mark_read_flood(c: Checkout) -> str:
    server = c.server()
    flooder = await asyncio.to_thread(c.token, "flooder")
    bystander = await asyncio.to_thread(c.token, "bystander")
    await asyncio.to_thread(c.notes, 50)

    async def connect_ms() -> float:
        began = time.perf_counter()
        sock = await connect(server, token=bystander)
        await handshake(sock)
        await sock.close()
        return (time.perf_counter() - began) * 1000

    quiet = statistics.median([await connect_ms() for _ in range(20)])
    sockets = [await connect(server, token=flooder) for _ in range(40)]
    for sock in sockets:
        await handshake(sock)
    stop = asyncio.Event()

    async def flood(sock) -> None:
        # 15 a second: within the per-socket limit of 20.
        with contextlib.suppress(websockets.ConnectionClosed):
            while not stop.is_set():
                await sock.send('{"type":"mark_read","all":true}')
                await asyncio.sleep(1 / 15)

    async def drain(sock) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            while True:
                await sock.recv()

    tasks = [asyncio.create_task(flood(s)) for s in sockets]
    tasks += [asyncio.create_task(drain(s)) for s in sockets]
    await asyncio.sleep(2)
    busy = [await connect_ms() for _ in range(20)]
    stop.set()
    for sock in sockets:
        await sock.close()
    await asyncio.gather(*tasks, return_exceptions=True)
    server.stop()
    return (
        f"another user's connect p50 {quiet:.0f} → {statistics.median(busy):.0f} ms "
        f"(max {max(busy):.0f} ms)"
    )


async def connects_while_database_hangs(c: Checkout) -> str:
    server = c.server()
    with c.notes_table_locked():
        sockets = []
        for _ in range(30):
            with contextlib.suppress(OSError, websockets.WebSocketException):
                sockets.append(await connect(server))
        closed = await asyncio.gather(*(close_code(s, within=30) for s in sockets))
        left = await asyncio.to_thread(open_connections, server)
    for sock in sockets:
        await sock.close()
    server.stop()
    return f"{codes(closed)} within 30 s; {left} counted open while it hangs"


async def live_sockets_while_database_hangs(c: Checkout) -> str:
    server = c.server()
    sockets = [await connect(server) for _ in range(5)]
    for sock in sockets:
        await handshake(sock)
    with c.notes_table_locked():
        began = time.monotonic()
        closed = await asyncio.gather(*(close_code(s, within=40) for s in sockets))
        took = time.monotonic() - began
    server.stop()
    if all(code is None for code in closed):
        return "no close, no notes, for 40 s"
    return f"{codes(closed)} after {took:.0f} s"


async def healthz_while_database_hangs(c: Checkout) -> str:
    server = c.server()
    answers = []
    with c.notes_table_locked():
        for _ in range(3):
            began = time.monotonic()
            status, _ = await asyncio.to_thread(call, f"{server.http_url}/healthz", timeout=25)
            answers.append(f"{status} in {time.monotonic() - began:.1f} s")
    server.stop()
    return ", ".join(answers)


async def failing_sends(c: Checkout) -> str:
    server = c.server(app="failing_send:application")
    token = await asyncio.to_thread(c.token, "fanout")
    good = [await connect(server, token=token) for _ in range(3)]
    broken = await websockets.connect(
        server.ws_url,
        additional_headers={"Authorization": f"Bearer {token}", "X-Test-Failing-Send": "note"},
    )
    for sock in [*good, broken]:
        await handshake(sock)
    await asyncio.to_thread(c.notes, 3)
    got = [0] * len(good)
    closed = await asyncio.gather(*(_count_notes(s, got, i) for i, s in enumerate(good)))
    server.stop()
    return f"the other sockets got {sum(got)}/9 notes; within 8 s they were {codes(closed)}"


async def _count_notes(sock, got: list[int], i: int) -> int | None:
    """Count note frames on ``sock`` for 8 s; its close code if it closed, else None."""
    try:
        async with asyncio.timeout(8):
            while True:
                frame = json.loads(await sock.recv())
                got[i] += frame["type"] == "note"
    except TimeoutError:
        return None
    except websockets.ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd is not None else 1006


async def logout_during_redis_blip(c: Checkout) -> str:
    redis = RedisServer()
    redis.start()
    try:
        server = c.server(redis_url=redis.url)
        from tests.support.http import BrowserSession

        name = (
            await asyncio.to_thread(
                c.shell,
                """
                import uuid
                from django.contrib.auth import get_user_model
                user = get_user_model().objects.create(username="blip-" + uuid.uuid4().hex[:6])
                user.set_password("pw-blip-12345"); user.save(); print(user.username)
                """,
            )
        ).split()[-1]
        session = BrowserSession(server)
        await asyncio.to_thread(session.login, name, "pw-blip-12345")
        sock = await websockets.connect(
            server.ws_url,
            origin=server.http_url,
            additional_headers={"Cookie": session.cookie_header()},
        )
        await handshake(sock)
        redis.stop()
        await asyncio.to_thread(session.logout)
        await asyncio.sleep(1.5)
        redis.start()
        code = await close_code(sock, within=30)
        server.stop()
        return "the socket was still open 30 s later" if code is None else f"closed with {code}"
    finally:
        redis.stop()


async def many_sockets_of_one_user(c: Checkout) -> str:
    out = await asyncio.to_thread(
        c.shell,
        """
        import asyncio, time
        from realtime.hub import Hub
        class S:
            def __init__(s): s.conn_id = str(id(s)); s.user_id = 7; s.session = None
        hub = Hub(asyncio.new_event_loop()); socks = [S() for _ in range(10_000)]
        for s in socks: hub.add(s)
        began = time.perf_counter()
        for s in socks: hub.remove(s)
        print(time.perf_counter() - began)
        """,
    )
    return f"removing them took {float(out.split()[-1]) * 1000:.0f} ms of loop time"


async def bad_input(c: Checkout) -> str:
    server = c.server()
    token = await asyncio.to_thread(c.token, "input")
    body = b'{"title": "a\\ud800b", "content": "x"}'
    surrogate, _ = await asyncio.to_thread(
        call, f"{server.http_url}/api/news/", method="POST", body=body, token=token
    )
    static, _ = await asyncio.to_thread(call, f"{server.http_url}/static/../asgi.py")
    tracebacks = server.logs().count("Traceback")
    server.stop()
    return f"lone surrogate: {surrogate}; /static/../: {static}; {tracebacks} tracebacks logged"


async def connect_during_shutdown(c: Checkout) -> str:
    server = c.server()
    token = await asyncio.to_thread(c.token, "late")
    lingering = RawWebSocket(server.port, token=token)
    late = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    server.proc.send_signal(signal.SIGTERM)
    await asyncio.to_thread(lingering.read_close_code, 10)
    late.sendall(upgrade_request(server.port, token))
    code = await asyncio.to_thread(read_close_code_after_upgrade, late)
    late.close()
    lingering.close()
    server.stop()
    return "dropped without a close frame" if code is None else f"closed with {code}"


async def dropped_database_connections(c: Checkout) -> str:
    if c.database_url.startswith("sqlite:"):
        return "(PostgreSQL only)"
    server = c.server()
    token = await asyncio.to_thread(c.token, "pool")

    def notes() -> int:
        return call(f"{server.http_url}/api/notes/", token=token)[0]

    await asyncio.gather(*(asyncio.to_thread(notes) for _ in range(8)))
    import psycopg

    with psycopg.connect(c.database_url.replace("postgres://", "postgresql://")) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            [server.application_name],
        )
    statuses = [await asyncio.to_thread(notes) for _ in range(12)]
    server.stop()
    return f"{statuses.count(500)} of 12 API calls answered 500"


@dataclass
class Row:
    name: str
    peer: str
    limit: str
    run: Callable[[Checkout], Awaitable[str]]


ROWS = [
    Row(
        "poison",
        "a note of 20,000 emoji (80 KB), then 100 resumes from before it",
        "`NOTES_MAX_NOTE_BYTES` at creation; frames clipped to 64 KiB",
        poison_note,
    ),
    Row(
        "pings",
        "one socket flooding pings, never reading",
        "`NOTES_WS_MAX_BUFFER_BYTES` (pongs too), strict keepalive",
        ping_flood,
    ),
    Row(
        "silent-replays",
        "50 anonymous `?after=0` sockets that never read (1,500 notes of 8 KB)",
        "replays wait for the socket to drain; anonymous depth",
        silent_replays,
    ),
    Row(
        "deep-replays",
        "50 anonymous `?after=0` replays at once (3,000 notes)",
        "`NOTES_ANONYMOUS_REPLAY_NOTES`, `NOTES_REPLAYS_AT_ONCE`",
        deep_anonymous_replays,
    ),
    Row(
        "mark-read",
        "40 sockets of one user sending `mark_read` 15 times a second each",
        "`NOTES_DB_USER_SHARE`, per-user queue",
        mark_read_flood,
    ),
    Row(
        "connect-hang",
        "30 connects while the notes table is locked",
        "`NOTES_DB_TIMEOUT_SECONDS`; every exit unregisters",
        connects_while_database_hangs,
    ),
    Row(
        "live-hang",
        "5 live sockets while the notes table is locked",
        "the catch-up's 2 s limit, three failures → 1012",
        live_sockets_while_database_hangs,
    ),
    Row(
        "healthz-hang",
        "`GET /healthz` while the notes table is locked",
        "its own thread, 0.8 s, one check in flight",
        healthz_while_database_hangs,
    ),
    Row(
        "pool",
        "PostgreSQL ends the server's sessions, then 12 API calls",
        "the pool checks connections (`CONN_HEALTH_CHECKS`)",
        dropped_database_connections,
    ),
    Row(
        "failing-send",
        "one socket whose sends raise, beside 3 others (3 notes)",
        "the fan-out drops that socket only",
        failing_sends,
    ),
    Row(
        "blip",
        "logout while Redis is stopped for 1.5 s",
        "the publisher keeps and retries events",
        logout_during_redis_blip,
    ),
    Row(
        "one-user",
        "10,000 sockets of one user close",
        "a set per user with two or more",
        many_sockets_of_one_user,
    ),
    Row(
        "input",
        "a lone surrogate in a title; `GET /static/../asgi.py`",
        "validation; static paths checked",
        bad_input,
    ),
    Row(
        "shutdown",
        "a handshake during the shutdown grace",
        "the runtime refuses new sockets once stopping",
        connect_during_shutdown,
    ),
]


def database_for(label: str, url: str | None) -> str:
    if url is None:
        return f"sqlite:///{tempfile.mkdtemp(prefix=f'hostile-{label}-')}/db.sqlite3"
    import psycopg

    name = f"hostile_{label}"
    admin = url.replace("postgres://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, help="an older checkout, for 'without'")
    parser.add_argument("--database-url", help="a PostgreSQL server (default: SQLite files)")
    parser.add_argument("--only", nargs="*", choices=[r.name for r in ROWS])
    args = parser.parse_args()
    checkouts = [Checkout("with", ROOT, database_for("with", args.database_url))]
    if args.before:
        checkouts.append(
            Checkout("without", args.before.resolve(), database_for("without", args.database_url))
        )
    for checkout in checkouts:
        checkout.prepare()
    rows = [r for r in ROWS if not args.only or r.name in args.only]
    print("| hostile or broken peer | the limit that holds it | with it | without it |")
    print("| --- | --- | --- | --- |")
    for row in rows:
        figures = []
        for checkout in checkouts:
            try:
                figures.append(asyncio.run(row.run(checkout)))
            except Exception as exc:  # a row that cannot run on a checkout says why
                figures.append(f"(failed: {type(exc).__name__}: {exc})"[:160])
        without = figures[1] if len(figures) > 1 else "(no --before)"
        print(f"| {row.peer} | {row.limit} | {figures[0]} | {without} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
