"""``python -m bench.capacity``: the unit costs of docs/capacity.md that performance.md lacks.

Against real daphne processes of ours (``bench.servers``) and the load
generator (``bench.loadgen``), with a **private** ``redis-server`` and a
**private** PostgreSQL 15 cluster, both on spare ports, started and stopped
here: ``INFO commandstats`` is server-wide, so on the shared Redis every other
session's commands would be counted; and pg_stat_statements is not in the
shared PostgreSQL's ``shared_preload_libraries`` (loading it needs a restart
of a server others use), so the private cluster loads it. The bench's
database (``bench.database``, ``h_capacity`` unless ``BENCH_DATABASE`` says
otherwise) is created in that cluster.

What it counts, and how:

- database statements per fresh connect, per resume (``?after=`` a few notes
  back), per disconnect and per note (public; private to a connected
  recipient; private to a recipient connected nowhere), from
  pg_stat_statements ``calls`` by normalized text (``BEGIN``/``COMMIT``
  included, the foreign-key checks PostgreSQL runs inside an INSERT named as
  such). The sender (this process's Django, ``note_create``/``news_publish``)
  connects as its own role, so its statements are counted apart from the
  servers'. The servers' background statements (catch-up, credential read and
  sweep every second, the presence batch) are measured in an idle window and
  taken off pro rata, statement by statement;
- Redis commands per note and per connect/disconnect (``INFO commandstats``
  deltas, less this bench's own), bytes Redis sent (``INFO stats``), and how
  many subscribers each ``PUBLISH`` reached (``PUBSUB NUMSUB``), with one and
  with two server processes; then the PUBLISH/s that Redis takes with 0 to 32
  subscribers (``redis-benchmark``);
- server CPU per private note whose recipient has no socket in that process
  (``/proc/PID/stat`` user + system over the sending window, less the same
  process's idle CPU over an equal time): what broadcasting private notes to
  every process costs each process;
- a check of the model: two processes with half the clients each, public
  notes at a fixed rate; the CPU each should use, predicted from the
  one-process cost per frame measured first, against what it used.

Prints a table; writes ``bench/out/capacity.json``. Run under the bench lock:
``flock /tmp/bench.lock make bench-capacity`` (about 5 minutes).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import secrets
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# Quiet seconds around each window: more than the hub's 5 s presence batch, so a
# batch a phase caused lands inside its window (CAPACITY_SETTLE=1 for a smoke run).
SETTLE = float(os.environ.get("CAPACITY_SETTLE", "6"))
SENDER_ROLE = "capacity_sender"


def log(message: str) -> None:
    print(f"[capacity {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class PrivateRedis:
    """A ``redis-server`` of our own on a free port, no persistence; stopped by its pid."""

    def __init__(self) -> None:
        from tests.support.services import free_port

        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    def start(self) -> PrivateRedis:
        from tests.support.services import port_open

        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not port_open(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("private redis-server did not start")
            time.sleep(0.05)
        return self

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None


class PrivatePostgres:
    """A PostgreSQL cluster of our own with pg_stat_statements loaded, on a free port.

    The shared server does not preload pg_stat_statements, and loading it there
    needs a restart of a server other sessions use. The same binaries and
    defaults (fsync on, 128 MB shared buffers) otherwise. Run as the ``postgres``
    user when this process is root (PostgreSQL refuses root).
    """

    BIN = Path("/usr/lib/postgresql/15/bin")

    def __init__(self) -> None:
        import tempfile

        from tests.support.services import free_port

        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="capacity-pg-"))
        self.started = False

    def _as_owner(self, argv: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv

    def start(self) -> PrivatePostgres:
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        data = self.dir / "data"
        subprocess.run(
            self._as_owner(
                [
                    str(self.BIN / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--no-sync",
                ]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.dir}"
            " -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.max=10000"
            " -c max_connections=200"
        )
        subprocess.run(
            self._as_owner(
                [
                    str(self.BIN / "pg_ctl"),
                    "-D",
                    str(data),
                    "-o",
                    options,
                    "-w",
                    "-l",
                    str(self.dir / "log"),
                    "start",
                ]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        self.started = True
        return self

    @property
    def admin_url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        if self.started:
            subprocess.run(
                self._as_owner(
                    [
                        str(self.BIN / "pg_ctl"),
                        "-D",
                        str(self.dir / "data"),
                        "-m",
                        "fast",
                        "-w",
                        "stop",
                    ]
                ),
                stdout=subprocess.DEVNULL,
            )
            self.started = False
        shutil.rmtree(self.dir, ignore_errors=True)


class Counters:
    """Snapshots of PostgreSQL's, Redis's and the servers' counters; differences of two."""

    def __init__(self, admin_url: str, database: str, redis_url: str) -> None:
        import psycopg
        import redis

        self.pg = psycopg.connect(admin_url, autocommit=True)
        self.pg.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        self.database = database
        self.redis = redis.Redis.from_url(redis_url)

    def snapshot(self, servers) -> dict[str, Any]:
        # Statements (every one, BEGIN and COMMIT included) run in the bench
        # database, by normalized text; this connection's own are in another.
        # The sender (this process's Django) connects as its own role: the
        # servers' statements and the sender's are told apart by role.
        rows = self.pg.execute(
            "SELECT r.rolname = %s, s.query, sum(s.calls)::bigint FROM pg_stat_statements s"
            " JOIN pg_database d ON d.oid = s.dbid JOIN pg_roles r ON r.oid = s.userid"
            " WHERE d.datname = %s GROUP BY 1, 2",
            [SENDER_ROLE, self.database],
        ).fetchall()
        commands = {
            name.removeprefix("cmdstat_"): stats["calls"]
            for name, stats in self.redis.info("commandstats").items()
        }
        stats = self.redis.info("stats")
        return {
            "t": time.monotonic(),
            "pg": {q: n for sent, q, n in rows if not sent},
            "sender": {q: n for sent, q, n in rows if sent},
            "redis": commands,
            "redis_out_bytes": stats["total_net_output_bytes"],
            "cpu": [s.cpu_seconds() for s in servers],
        }

    def numsub(self) -> int:
        """Subscribers of the busiest pub/sub channel (the notes group: one per process)."""
        channels = self.redis.pubsub_channels()
        counts = [n for _, n in self.redis.pubsub_numsub(*channels)] if channels else [0]
        return max(counts)

    @staticmethod
    def delta(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
        commands = {
            k: b["redis"].get(k, 0) - a["redis"].get(k, 0)
            for k in set(a["redis"]) | set(b["redis"])
        }
        commands.pop("info", None)  # ours
        commands.pop("pubsub|channels", None)
        commands.pop("pubsub|numsub", None)

        def diff(key: str) -> dict[str, int]:
            out = {q: b[key].get(q, 0) - a[key].get(q, 0) for q in set(a[key]) | set(b[key])}
            return dict(sorted(((q, n) for q, n in out.items() if n), key=lambda kv: -kv[1]))

        server, sent = diff("pg"), diff("sender")
        return {
            "seconds": b["t"] - a["t"],
            "statements": sum(server.values()),
            "by_statement": server,
            "sender_statements": sum(sent.values()),
            "sender_by_statement": sent,
            "redis": {k: v for k, v in commands.items() if v},
            "redis_out_bytes": b["redis_out_bytes"] - a["redis_out_bytes"],
            "cpu": [y - x for x, y in zip(a["cpu"], b["cpu"], strict=True)],
        }


class Capacity:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.results: dict[str, Any] = {}

    def run(self) -> dict[str, Any]:
        from bench.loadgen import LoadPool, raise_fd_limit

        raise_fd_limit()
        self.pool = LoadPool(2)  # spawned before Django and threads load
        self.servers: list = []
        self.redis = PrivateRedis()
        self.postgres = PrivatePostgres()
        try:
            self.redis.start()
            self.postgres.start()
            return self._run()
        finally:
            for server in self.servers:
                server.stop()
            self.pool.shutdown()
            try:
                from bench.database import close_connections

                close_connections()
            except Exception:
                pass
            self.redis.stop()
            self.postgres.stop()

    def _run(self) -> dict[str, Any]:
        os.environ["BENCH_REDIS_URL"] = self.redis.url
        os.environ["BENCH_POSTGRES_URL"] = self.postgres.admin_url
        os.environ.setdefault("BENCH_DATABASE", "h_capacity")
        from bench import database, report
        from bench.publish import OursPublisher
        from bench.servers import Server, ServerKind
        from bench.workloads import Target

        a = self.args
        self.results["conditions"] = {
            **report.conditions(type("P", (), {"name": "capacity"})()),
            "database": database.DATABASE,
            "redis": f"private redis-server on port {self.redis.port}",
            "postgres": f"private PostgreSQL 15 cluster on port {self.postgres.port}",
            "db_counting": "pg_stat_statements calls (BEGIN/COMMIT included), servers and "
            "sender told apart by role",
        }
        prefix = f"capacity-{secrets.token_hex(4)}"
        log(f"database {database.DATABASE} (recreated), {self.results['conditions']['redis']}")
        database.recreate_database()
        import psycopg

        with psycopg.connect(database.ADMIN_URL, autocommit=True) as conn:
            conn.execute(f"CREATE ROLE {SENDER_ROLE} SUPERUSER LOGIN")
        # bench.database.setup_django, with the sender's own role.
        os.environ.update(database.server_env(prefix))
        os.environ["DATABASE_URL"] = database.database_url().replace(
            "postgres@", f"{SENDER_ROLE}@", 1
        )
        os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
        os.environ["LOG_LEVEL"] = "WARNING"
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)
        users = database.create_users(a.clients + a.absent_users)
        (poster,) = database.create_users_named(["capacity-poster"])
        present, absent = users[: a.clients], users[a.clients :]
        publisher = OursPublisher(poster.id)
        kind = ServerKind("ours", "ours: daphne + hub", env=database.server_env(prefix), ours=True)
        first = Server(kind).start()
        self.servers.append(first)
        target = Target(first, publisher, self.pool, users, True)
        counters = Counters(database.ADMIN_URL, database.DATABASE, self.redis.url)

        def warm(t: Target) -> None:
            t.connect(1)
            note_id, _ = publisher.public()
            self.pool.wait_for(note_id, 1, 10)
            self.pool.close_clients()

        warm(target)

        @contextmanager
        def window(name: str, servers: list, units: int):
            """Counters over a phase and the quiet after it; per-unit figures stored."""
            time.sleep(SETTLE)
            before = counters.snapshot(servers)
            box: dict[str, Any] = {}
            yield box
            box.setdefault("cpu_window", time.monotonic() - before["t"])
            cpu_mid = [s.cpu_seconds() for s in servers]
            time.sleep(SETTLE)
            d = Counters.delta(before, counters.snapshot(servers))
            d["cpu"] = [m - c for m, c in zip(cpu_mid, before["cpu"], strict=True)]
            d["cpu_seconds"] = box["cpu_window"]
            d["units"] = units
            self.results[name] = d
            log(f"{name}: {json.dumps(d)}")

        # Idle: the servers' background work per second, with the sockets of the note phases.
        def idle(name: str, servers: list, seconds: float) -> None:
            with window(name, servers, 0) as box:
                time.sleep(seconds)
                box["cpu_window"] = seconds

        target.connect(a.clients)
        idle("idle_1", [first], a.idle_seconds)
        self.pool.close_clients()

        # Connect, disconnect, resume.
        with window("connect", [first], a.clients):
            target.connect(a.clients)
        with window("disconnect", [first], a.clients):
            self.pool.close_clients()
        from note.selectors import note_last_id

        publisher.many_public(a.resume_back)
        after = note_last_id() - a.resume_back
        specs = [
            s.__class__(s.tag, f"/ws/notes/?after={after}", s.headers)
            for s in target.specs(a.resumes)
        ]
        with window("resume", [first], a.resumes):
            result = self.pool.connect("127.0.0.1", first.port, specs, until_synced=True, batch=10)
            if result.ok != a.resumes:
                raise RuntimeError(f"resume: {result.ok} of {a.resumes} ({dict(result.errors)})")
        got = sum(len(r) for _, r in self.pool.receipts())
        self.results["resume"]["replayed_frames"] = got
        self.pool.close_clients()

        # Notes, one process, a.clients connected.
        target.connect(a.clients)
        rng = random.Random(15)

        def paced(count: int, rate: float, send) -> None:
            start = time.monotonic()
            for i in range(count):
                delay = start + i / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                send()

        with window("public_1", [first], a.notes):
            paced(a.notes, a.rate, publisher.public)
            last, _ = publisher.public()
            self.pool.wait_for(last, a.clients, 30)
        self.results["public_1"]["frames"] = self.pool.total()
        self.pool.receipts()
        with window("private_present_1", [first], a.notes):
            paced(a.notes, a.rate, lambda: publisher.to_user(rng.choice(present).id))
        self.results["private_present_1"]["frames"] = self.pool.total()
        self.pool.receipts()
        self.results["numsub_1"] = counters.numsub()
        with window("private_absent_1", [first], a.absent_notes):
            paced(a.absent_notes, a.absent_rate, lambda: publisher.to_user(rng.choice(absent).id))
        self.results["private_absent_1"]["frames"] = self.pool.total()
        self.pool.close_clients()

        # Two processes, half the clients on each.
        second = Server(kind).start()
        self.servers.append(second)
        target2 = Target(second, publisher, self.pool, users, True)
        warm(target2)
        half = a.clients // 2
        both = [first, second]

        def connect_halves() -> None:
            target.connect(half)
            r = self.pool.connect(
                "127.0.0.1", second.port, target2.specs(half, first=half), until_synced=True
            )
            if self.pool.status()["open"] != 2 * half:
                raise RuntimeError(f"two processes: {dict(r.errors)}")
            self.pool.receipts()

        connect_halves()
        idle("idle_2", both, a.idle_seconds)
        self.results["numsub_2"] = counters.numsub()
        with window("private_absent_2", both, a.absent_notes):
            paced(a.absent_notes, a.absent_rate, lambda: publisher.to_user(rng.choice(absent).id))
        self.pool.receipts()
        with window("private_present_2", both, a.notes):
            paced(a.notes, a.rate, lambda: publisher.to_user(rng.choice(present[: 2 * half]).id))
        self.results["private_present_2"]["frames"] = self.pool.total()
        self.pool.receipts()
        with window("public_2", both, a.notes):
            paced(a.notes, a.rate, publisher.public)
            last, _ = publisher.public()
            self.pool.wait_for(last, 2 * half, 30)
        self.results["public_2"]["frames"] = self.pool.total()
        self.pool.close_clients()
        payload = round(self.results["private_absent_1"]["redis_out_bytes"] / a.absent_notes)
        self.results["redis_ceiling"] = redis_ceiling(self.redis, payload, a.ceiling_publishes)
        self.results["conditions"]["load_after"] = report.load_average()
        self.results["parameters"] = vars(a)
        self.results["units"] = unit_costs(self.results, a)
        return self.results


def redis_ceiling(redis: PrivateRedis, payload_bytes: int, publishes: int) -> dict[str, Any]:
    """PUBLISH/s the private Redis takes (``redis-benchmark``), with 0, 2, 8, 32 subscribers.

    Redis runs commands on one thread; a PUBLISH costs it a write per
    subscriber, so the ceiling is in messages delivered per second, and it
    falls with subscribers. The subscribers are ``redis-cli`` processes
    writing to /dev/null (a subscriber that falls 8 MB behind for 60 s, or
    32 MB at once, is cut off by Redis's default output-buffer limit: the count
    of subscribers left is checked after each run). Everything shares the
    machine's two cores with redis-benchmark itself: a floor, not Redis's best.
    """
    import redis as redis_py

    client = redis_py.Redis.from_url(redis.url)
    payload = "x" * payload_bytes
    out: dict[str, Any] = {"payload_bytes": payload_bytes, "publishes": publishes}
    for subscribers in (0, 2, 8, 32):
        subs = [
            subprocess.Popen(
                ["redis-cli", "-p", str(redis.port), "subscribe", "ceiling"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(subscribers)
        ]
        try:
            deadline = time.monotonic() + 10
            while client.pubsub_numsub("ceiling")[0][1] < subscribers:
                if time.monotonic() > deadline:
                    raise RuntimeError("redis-cli subscribers did not subscribe")
                time.sleep(0.05)
            run = subprocess.run(
                [
                    "redis-benchmark",
                    "-p",
                    str(redis.port),
                    "-c",
                    "20",
                    "-n",
                    str(publishes),
                    "-q",
                    "PUBLISH",
                    "ceiling",
                    payload,
                ],
                capture_output=True,
                text=True,
                timeout=300,
                check=True,
            )
            rate = float(re.findall(r"([\d.]+) requests per second", run.stdout)[-1])
            left = client.pubsub_numsub("ceiling")[0][1]
        finally:
            for sub in subs:
                sub.terminate()
                sub.wait(5)
        out[f"{subscribers}_subscribers"] = {
            "publish_per_s": round(rate),
            "messages_delivered_per_s": round(rate * subscribers),
            "subscribers_left": left,
        }
        log(f"redis ceiling, {subscribers} subscribers: {out[f'{subscribers}_subscribers']}")
    return out


def _idle(results: dict[str, Any], key: str) -> tuple[list[float], dict[str, float]]:
    """(CPU seconds per second per process, server statements per second by text), idle."""
    w = results[key]
    return (
        [c / w["cpu_seconds"] for c in w["cpu"]],
        {q: n / w["seconds"] for q, n in w["by_statement"].items()},
    )


def short(query: str) -> str:
    """A statement's text, short; savepoint names folded, foreign-key checks named."""
    text = " ".join(query.split())
    if text.startswith("SELECT $2 FROM ONLY") or text.startswith("SELECT 1 FROM ONLY"):
        return "(foreign-key check) " + text.split('"."', 1)[-1].split('"', 1)[0]
    return re.sub(r'"s\d+_x\d+"', '"sN"', text)[:90]


def unit_costs(r: dict[str, Any], a: argparse.Namespace) -> dict[str, Any]:
    """The per-unit figures of docs/capacity.md, from the raw windows.

    The servers' background statements (catch-up, credential read, sweep every
    second; presence) run in every window: each statement's idle rate times the
    window's length is taken off before dividing by the units.
    """
    cpu1, idle1 = _idle(r, "idle_1")
    cpu2, idle2 = _idle(r, "idle_2")

    def statements(key: str, idle: dict[str, float]) -> tuple[float, dict[str, float]]:
        w = r[key]
        per = {
            q: (n - idle.get(q, 0.0) * w["seconds"]) / w["units"]
            for q, n in w["by_statement"].items()
        }
        folded: dict[str, float] = {}
        for q, v in per.items():
            folded[short(q)] = folded.get(short(q), 0.0) + v
        shown = {q: round(v, 2) for q, v in folded.items() if abs(v) >= 0.05}
        return round(sum(per.values()), 2), shown

    def fold(by: dict[str, int], units: int) -> dict[str, float]:
        folded: dict[str, float] = {}
        for q, n in by.items():
            folded[short(q)] = folded.get(short(q), 0.0) + n / units
        return {q: round(v, 2) for q, v in folded.items() if v >= 0.05}

    def cpu_ms(key: str, idle_cpu: list[float]) -> list[float]:
        w = r[key]
        return [
            round(1000 * (c - i * w["cpu_seconds"]) / w["units"], 3)
            for c, i in zip(w["cpu"], idle_cpu, strict=True)
        ]

    def redis_per(key: str) -> dict[str, float]:
        w = r[key]
        return {k: round(v / w["units"], 2) for k, v in w["redis"].items()}

    out: dict[str, Any] = {
        "idle_statements_per_s": {
            "1 process": round(sum(idle1.values()), 1),
            "2 processes": round(sum(idle2.values()), 1),
        },
        "idle_by_statement_per_s": {short(q): round(v, 2) for q, v in idle2.items()},
        "idle_cpu_ms_per_s": [round(1000 * c, 2) for c in cpu2],
    }
    for key in ("connect", "disconnect", "resume"):
        total, shown = statements(key, idle1)
        out[key] = {
            "statements": total,
            "by_statement": shown,
            "redis": redis_per(key),
            "server_cpu_ms": cpu_ms(key, cpu1),
        }
    for key, idle, idle_cpu in (
        ("public_1", idle1, cpu1),
        ("private_present_1", idle1, cpu1),
        ("private_absent_1", idle1, cpu1),
        ("private_absent_2", idle2, cpu2),
        ("private_present_2", idle2, cpu2),
        ("public_2", idle2, cpu2),
    ):
        total, shown = statements(key, idle)
        w = r[key]
        out[key] = {
            "statements": total,
            "by_statement": shown,
            "sender_statements": round(w["sender_statements"] / w["units"], 2),
            "sender_by_statement": fold(w["sender_by_statement"], w["units"]),
            "redis": redis_per(key),
            "redis_out_bytes": round(w["redis_out_bytes"] / w["units"]),
            "server_cpu_ms": cpu_ms(key, idle_cpu),
        }
    w = r["public_1"]
    frames_1 = w["units"] * a.clients
    out["cpu_us_per_frame_1"] = round(
        1e6 * (w["cpu"][0] - cpu1[0] * w["cpu_seconds"]) / frames_1, 2
    )
    # The check: predict each of two processes' CPU for the public phase from the
    # one-process cost per frame, and compare.
    w = r["public_2"]
    half = a.clients // 2
    predicted = [
        w["units"] * half * out["cpu_us_per_frame_1"] / 1e6 + i * w["cpu_seconds"] for i in cpu2
    ]
    out["check_public_2"] = {
        "clients_per_process": half,
        "notes": w["units"],
        "rate": a.rate,
        "predicted_cpu_s": [round(p, 3) for p in predicted],
        "measured_cpu_s": [round(c, 3) for c in w["cpu"]],
    }
    return out


def table(results: dict[str, Any]) -> str:
    u = results["units"]
    lines = [
        "| what | server statements | sender statements | Redis commands | Redis bytes out |"
        " server CPU ms |",
        "|---|---|---|---|---|---|",
    ]
    for key in ("connect", "disconnect", "resume"):
        v = u[key]
        lines.append(
            f"| per {key} | {v['statements']} | - | {v['redis'] or '-'} | - |"
            f" {v['server_cpu_ms']} |"
        )
    for key in (
        "public_1",
        "private_present_1",
        "private_absent_1",
        "private_absent_2",
        "private_present_2",
        "public_2",
    ):
        v = u[key]
        lines.append(
            f"| {key} per note | {v['statements']} | {v['sender_statements']} | {v['redis']} |"
            f" {v['redis_out_bytes']} | {v['server_cpu_ms']} |"
        )
    lines.append("")
    for key in (
        "connect",
        "disconnect",
        "resume",
        "public_1",
        "private_present_1",
        "private_absent_1",
        "private_absent_2",
    ):
        lines.append(f"{key}: {u[key]['by_statement']}")
    lines.append(f"sender, private note: {u['private_absent_1']['sender_by_statement']}")
    lines.append(f"CPU per frame, one process: {u['cpu_us_per_frame_1']} us")
    lines.append(
        f"idle: {u['idle_statements_per_s']} statements/s, CPU ms/s {u['idle_cpu_ms_per_s']}"
    )
    lines.append(f"idle by statement (2 processes): {u['idle_by_statement_per_s']}")
    lines.append(f"PUBSUB NUMSUB: 1 process {results['numsub_1']}, 2: {results['numsub_2']}")
    lines.append(f"check (2 processes, public): {u['check_public_2']}")
    lines.append(f"Redis ceiling: {results['redis_ceiling']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.capacity", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--clients", type=int, default=1000, help="sockets in the note phases")
    parser.add_argument("--absent-users", type=int, default=1000, help="users never connected")
    parser.add_argument("--notes", type=int, default=100, help="notes per public/private phase")
    parser.add_argument("--rate", type=float, default=10.0, help="notes/s in those phases")
    parser.add_argument("--absent-notes", type=int, default=1000)
    parser.add_argument("--absent-rate", type=float, default=100.0)
    parser.add_argument("--resumes", type=int, default=200)
    parser.add_argument("--resume-back", type=int, default=5, help="notes each resume replays")
    parser.add_argument("--ceiling-publishes", type=int, default=200_000)
    parser.add_argument("--idle-seconds", type=float, default=15.0)
    parser.add_argument("--out", type=Path, default=Path("bench/out"))
    args = parser.parse_args(argv)
    if args.clients < 2 or args.notes < 1 or args.absent_notes < 1 or args.resumes < 1:
        parser.error("--clients must be at least 2, the counts at least 1")
    results = Capacity(args).run()
    print(table(results))
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "capacity.json"
    path.write_text(json.dumps(results, indent=2, default=str))
    log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
