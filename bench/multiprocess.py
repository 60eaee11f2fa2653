"""``python -m bench.multiprocess [--quick]``: several server processes behind nginx (issue 15).

For N = 2, then 4: N daphne processes of ours behind nginx with the site of
docs/nginx.conf (tests/support/nginx.py fills in the ports), then N bare
``websockets`` servers behind the same kind of nginx, each holding its share
of 20,000 clients (the full plan) connected through nginx. Public notes go
out one at a time; for each, the time from the commit (ours) or the
``PUBLISH`` (bare) to the frame of the last of all clients, and the CPU the
server processes spent (user + system from /proc, summed over the N).

The comparison is meant to be fair: both sides get each note from Redis
once per process and fan it out to their own sockets. Ours through its
channel layer (``RedisPubSubChannelLayer``, one subscription per process)
and hub; each bare server (bench/peers/bare.py) subscribes to the same
pub/sub channel, serializes the note once and hands it to
``websockets.broadcast``. nginx, Redis, the load generator and the
orchestrator are the same for both and share the machine's cores with them.

One process may hold 20,000 file descriptors here (``ulimit -n``), so
the clients are spread over load-generator processes and nginx over
several workers: a proxied socket costs an nginx worker two descriptors.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import database, report
from bench.loadgen import ClientSpec, LoadPool, raise_fd_limit
from bench.publish import BarePublisher, LoopThread, OursPublisher
from bench.servers import Server, ServerKind
from bench.workloads import BenchError, check_broadcast, ms, pct
from tests.support.nginx import Nginx

GOAL = 1.3  # issue 15: time to the last client at most 1.3x bare's


@dataclass(frozen=True)
class MultiPlan:
    name: str
    processes: tuple[int, ...]  # server processes per row, each behind one nginx
    clients: int  # connected clients in all, through nginx
    notes: int  # public notes per row, one at a time
    workers: int  # load-generator processes
    nginx_workers: int
    connect_batch: int  # handshakes in flight per load-generator process

    @property
    def files_per_nginx_worker(self) -> int:
        """Two per proxied socket plus slack for the skew of the kernel's share-out."""
        return 2 * self.clients // self.nginx_workers * 5 // 4 + 256


FULL = MultiPlan(
    name="multiprocess",
    processes=(2, 4),
    clients=20_000,
    notes=20,
    workers=4,
    nginx_workers=4,
    connect_batch=50,
)

QUICK = MultiPlan(
    name="multiprocess-quick",
    processes=(2, 4),
    clients=400,
    notes=5,
    workers=2,
    nginx_workers=2,
    connect_batch=50,
)


def log(message: str) -> None:
    print(f"[bench-multi {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def check_file_limits(plan: MultiPlan) -> None:
    """Fail at the start, with the reason, rather than after connecting half the clients."""
    limit = raise_fd_limit()
    per_worker = -(-plan.clients // plan.workers) + 64
    needs = {
        "load-generator process": per_worker,
        "nginx worker": plan.files_per_nginx_worker,
        "server process": plan.clients // min(plan.processes) + 256,
    }
    over = {name: n for name, n in needs.items() if n > limit}
    if over:
        raise SystemExit(
            f"ulimit -n is {limit}; this plan needs per process: "
            + ", ".join(f"{name} {n}" for name, n in over.items())
            + ". Raise the limit or spread over more processes."
        )


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def established(port: int) -> int:
    """Sockets accepted on ``port`` (local address 127.0.0.1:port), from /proc/net/tcp."""
    wanted = f"0100007F:{port:04X}"
    count = 0
    with open("/proc/net/tcp") as table:
        next(table)
        for line in table:
            fields = line.split(None, 4)
            if fields[1] == wanted and fields[3] == "01":  # ESTABLISHED
                count += 1
    return count


class MultiBench:
    def __init__(self, plan: MultiPlan, kinds: list[str], profile: Path | None = None) -> None:
        self.plan = plan
        self.kinds = kinds
        self.profile = profile
        self.prefix = f"bench-multi-{secrets.token_hex(4)}"
        self.env = database.server_env(self.prefix)
        self.channel = f"{self.prefix}:bare"
        self.servers: list[Server] = []
        self.nginx: Nginx | None = None
        self.io: LoopThread | None = None
        self.pool: LoadPool | None = None

    def __enter__(self) -> MultiBench:
        check_file_limits(self.plan)
        if _nginx_version() == "-":
            raise SystemExit("nginx is not installed (apt-get install nginx-light)")
        self.pool = LoadPool(self.plan.workers)  # spawned before Django and threads load
        log(f"database {database.DATABASE} (recreated), Redis prefix {self.prefix}")
        database.recreate_database()
        database.setup_django(self.prefix)
        started = time.monotonic()
        self.users = database.create_users(self.plan.clients)
        log(f"{len(self.users)} users with tokens in {time.monotonic() - started:.0f} s")
        (self.poster,) = database.create_users_named(["bench-poster"])
        self.io = LoopThread()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop_row()
        if self.pool is not None:
            self.pool.shutdown()
        if self.io is not None:
            self.io.stop()
        database.close_connections()

    # one row: N processes of one kind behind nginx

    def kind(self, key: str) -> ServerKind:
        if key == "ours":
            return ServerKind("ours", "ours: daphne + hub", env=self.env, ours=True)
        return ServerKind(
            "bare", "bare websockets", argv=[database.REDIS_URL, self.channel], env={}
        )

    def start_row(self, kind: ServerKind, processes: int) -> Nginx:
        for _ in range(processes):
            self.servers.append(Server(kind).start(timeout=60))
        prefix = Path(tempfile.mkdtemp(prefix=f"bench-nginx-{kind.key}-"))
        self.nginx = Nginx(
            [s.port for s in self.servers],
            prefix,
            workers=self.plan.nginx_workers,
            connections=self.plan.files_per_nginx_worker - 128,
            files=self.plan.files_per_nginx_worker,
            access_log=False,
        ).start()
        return self.nginx

    def stop_row(self) -> None:
        if self.nginx is not None:
            self.nginx.stop()
            self.nginx = None
        for server in self.servers:
            server.stop()
        self.servers = []

    def specs(self, ours: bool) -> list[ClientSpec]:
        if ours:
            return [
                ClientSpec(u.id, "/ws/notes/", {"Authorization": f"Bearer {u.token}"})
                for u in self.users
            ]
        return [ClientSpec(u.id, f"/ws/notes/?user={u.id}") for u in self.users]

    def run(self) -> dict[str, Any]:
        results: dict[str, Any] = {
            "conditions": {**report.conditions(self.plan), **self.extra_conditions()},
            "rows": [],
        }
        for processes in self.plan.processes:
            for key in self.kinds:
                results["rows"].append(self.run_row(self.kind(key), processes))
        results["conditions"]["load_after"] = report.load_average()
        return results

    def extra_conditions(self) -> dict[str, Any]:
        return {
            "clients": self.plan.clients,
            "notes": self.plan.notes,
            "load_generator_processes": self.plan.workers,
            "nginx_workers": self.plan.nginx_workers,
            "nginx": _nginx_version(),
            "ulimit_n": resource.getrlimit(resource.RLIMIT_NOFILE)[1],
            "commit": report._command(["git", "rev-parse", "--short", "HEAD"]),
        }

    def run_row(self, kind: ServerKind, processes: int) -> dict[str, Any]:
        plan, pool = self.plan, self.pool
        assert pool is not None and self.io is not None
        if kind.ours:
            publisher: Any = OursPublisher(self.poster.id)
        else:
            publisher = BarePublisher(self.io, database.REDIS_URL, self.channel)
        label = f"{kind.label} x{processes}"
        log(f"{label}: starting {processes} processes and nginx")
        nginx = self.start_row(kind, processes)
        try:
            log(f"{label}: connecting {plan.clients} clients through nginx")
            connected = pool.connect(
                "127.0.0.1",
                nginx.port,
                self.specs(kind.ours),
                until_synced=kind.ours,
                batch=plan.connect_batch,
                timeout=120,
            )
            status = pool.status()
            if status["open"] != plan.clients:
                raise BenchError(
                    f"{label}: {status['open']} of {plan.clients} sockets open "
                    f"(errors: {dict(connected.errors.most_common(3))})"
                )
            per_process = [established(s.port) for s in self.servers]
            log(
                f"{label}: connected in {connected.finished - connected.started:.1f} s, "
                f"per process {per_process}; warm-up note"
            )
            note_id, _ = publisher.public()
            if not pool.wait_for(note_id, plan.clients, timeout=120):
                raise BenchError(f"{label}: the warm-up note did not reach every client")
            pool.receipts()
            time.sleep(1)
            idle = self.idle_cpu()
            log(f"{label}: {plan.notes} notes, one at a time")
            row = self.broadcast(publisher, nginx)
            # What the servers burn with no note at all (keep-alive pings, daphne's
            # per-second scans of every connection), over the time each note took.
            row["idle_cpu_pct"] = round(100 * idle, 1)
            row["idle_cpu_ms_per_note"] = ms(idle * row["seconds_per_note"])
            status = pool.status()
            row.update(
                processes=processes,
                server=kind.key,
                label=label,
                connect_s=round(connected.finished - connected.started, 1),
                per_process=per_process,
                rss_mb=round(sum(s.rss_bytes() for s in self.servers) / 2**20),
                dropped_sockets=status.get("lost", 0),
            )
            log(
                f"{label}: time to last p50 {row['last_p50_ms']} ms, "
                f"CPU {row['server_cpu_ms_per_note']} ms/note, lost {row['lost']}"
            )
            return row
        finally:
            pool.close_clients()
            time.sleep(1)
            self.stop_row()
            if hasattr(publisher, "close"):
                publisher.close()

    def idle_cpu(self, seconds: float = 5.0) -> float:
        """CPU-seconds per second the server processes spend, summed, with no note going out."""
        pids = [s.pid for s in self.servers]
        before, started = sum(cpu_seconds(p) for p in pids), time.monotonic()
        time.sleep(seconds)
        return (sum(cpu_seconds(p) for p in pids) - before) / (time.monotonic() - started)

    def broadcast(self, publisher: Any, nginx: Nginx) -> dict[str, Any]:
        plan, pool = self.plan, self.pool
        assert pool is not None
        pids = [s.pid for s in self.servers]
        nginx_pids = nginx.worker_pids()
        recorders = []
        if self.profile is not None:  # py-spy on each server, while the notes go out only
            from bench.profile import Recorder

            self.profile.mkdir(parents=True, exist_ok=True)
            key = self.servers[0].kind.key
            recorders = [
                Recorder(pid, self.profile / f"{key}-x{len(pids)}-{i}.txt")
                for i, pid in enumerate(pids)
            ]
            time.sleep(1)  # py-spy attaches
        published: dict[int, float] = {}
        before = sum(cpu_seconds(p) for p in pids)
        nginx_before = sum(cpu_seconds(p) for p in nginx_pids)
        started = time.monotonic()
        for _ in range(plan.notes):
            note_id, start = publisher.public()
            published[note_id] = start
            if not pool.wait_for(note_id, plan.clients, timeout=120):
                break  # counted as lost below
            time.sleep(0.05)
        server_cpu = sum(cpu_seconds(p) for p in pids) - before
        elapsed = time.monotonic() - started
        nginx_cpu = sum(cpu_seconds(p) for p in nginx_pids) - nginx_before
        for recorder in recorders:
            recorder.stop()
        delivery = check_broadcast(pool.receipts(), published)
        last = delivery.last_per_note or [float("nan")]
        return {
            "clients": plan.clients,
            "notes": len(published),
            "p50_ms": ms(pct(delivery.latencies, 50)),
            "p99_ms": ms(pct(delivery.latencies, 99)),
            "last_p50_ms": ms(statistics.median(last)),
            "last_p99_ms": ms(pct(last, 99)),
            "last_per_note_ms": [ms(x) for x in last],
            "seconds_per_note": round(elapsed / max(1, len(published)), 3),
            "server_cpu_ms_per_note": ms(server_cpu / max(1, len(published))),
            "nginx_cpu_ms_per_note": ms(nginx_cpu / max(1, len(published))),
            "lost": delivery.lost,
            "duplicates": delivery.duplicates,
            "out_of_order": delivery.out_of_order,
        }


def _nginx_version() -> str:
    """``nginx -v`` (on stderr), or "-" when there is no nginx on the PATH or in /usr/sbin."""
    import shutil
    import subprocess

    binary = shutil.which("nginx", path=f"{os.environ.get('PATH', '')}:/usr/sbin")
    if binary is None:
        return "-"
    try:
        return subprocess.run(
            [binary, "-v"], capture_output=True, text=True, timeout=5
        ).stderr.strip()
    except OSError:
        return "-"


def markdown(results: dict[str, Any]) -> str:
    c = results["conditions"]
    parts = [
        "## Conditions",
        "",
        f"- {c['date']}, plan `{c['plan']}`, {c.get('duration_s', '?')} s, commit {c['commit']}",
        f"- {c['machine']}; {c['os']}; Python {c['python']}; {c['nginx']}",
        f"- {c['clients']} clients through nginx ({c['nginx_workers']} workers), "
        f"{c['load_generator_processes']} load-generator processes, ulimit -n {c['ulimit_n']}",
        f"- load average (1, 5, 15 min) before: {c['load_before']}; "
        f"after: {c.get('load_after', '?')}",
        "",
        "## Broadcast through nginx, N server processes",
        "",
    ]
    rows = []
    for row in results["rows"]:
        rows.append(
            [
                row["label"],
                f"{row['clients']:,}",
                row["connect_s"],
                " / ".join(f"{n:,}" for n in row["per_process"]),
                row["p50_ms"],
                row["p99_ms"],
                row["last_p50_ms"],
                row["last_p99_ms"],
                row["server_cpu_ms_per_note"],
                f"{row['idle_cpu_ms_per_note']} ({row['idle_cpu_pct']} %)",
                row["nginx_cpu_ms_per_note"],
                row["rss_mb"],
                _lost(row),
            ]
        )
    parts.append(
        report._table(
            [
                "servers",
                "clients",
                "connect s",
                "clients per process",
                "frame p50 ms",
                "frame p99 ms",
                "time to last p50 ms",
                "time to last p99 ms",
                "server CPU ms/note",
                "of which idle ms/note (idle CPU % of a core)",
                "nginx CPU ms/note",
                "server RSS MB",
                "lost",
            ],
            rows,
        )
    )
    ratios = []
    for processes in sorted({r["processes"] for r in results["rows"]}):
        by = {r["server"]: r for r in results["rows"] if r["processes"] == processes}
        if "ours" in by and "bare" in by:
            ours, bare = by["ours"], by["bare"]
            last = ours["last_p50_ms"] / bare["last_p50_ms"]
            status = "met" if last <= GOAL else "not met"
            ratios.append(
                [
                    processes,
                    f"{last:.2f}x",
                    _ratio(ours["server_cpu_ms_per_note"], bare["server_cpu_ms_per_note"]),
                    _ratio(_busy(ours), _busy(bare)),
                    f"<= {GOAL}x: {status}",
                ]
            )
    if ratios:
        parts += [
            "",
            "## Ours against bare, same number of processes",
            "",
            report._table(
                [
                    "processes",
                    "time to last (p50 over notes)",
                    "server CPU per note",
                    "the same less idle",
                    "goal (time to last)",
                ],
                ratios,
            ),
            "",
            "CPU is read from /proc in clock ticks (10 ms per process): with few clients a",
            "ratio of CPU figures means little.",
        ]
    return "\n".join(parts)


def _busy(row: dict[str, Any]) -> float:
    """Server CPU per note above what the servers burn idle over the same time."""
    return row["server_cpu_ms_per_note"] - row.get("idle_cpu_ms_per_note", 0.0)


def _ratio(ours: float, bare: float) -> str:
    return f"{ours / bare:.2f}x" if bare >= 1.0 else "-"


def _lost(row: dict[str, Any]) -> str:
    extra = [
        f"{row[k]} {k.replace('_', ' ')}"
        for k in ("duplicates", "out_of_order", "dropped_sockets")
        if row.get(k)
    ]
    return ", ".join([str(row["lost"]), *extra])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.multiprocess", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="400 clients: a smoke run")
    parser.add_argument("--only", default="ours,bare", help="servers, of ours,bare")
    parser.add_argument(
        "--processes", help="comma-separated process counts (default: the plan's, 2,4)"
    )
    parser.add_argument("--clients", type=int, help="clients in all (default: the plan's)")
    parser.add_argument("--notes", type=int, help="notes per row (default: the plan's)")
    parser.add_argument("--out", type=Path, help="write <plan>.json and <plan>.md into DIR")
    parser.add_argument(
        "--profile", type=Path, help="record each server with py-spy during the notes, into DIR"
    )
    args = parser.parse_args(argv)
    kinds = [k for k in args.only.split(",") if k]
    if not kinds or set(kinds) - {"ours", "bare"}:
        parser.error("--only takes ours, bare or both")
    plan = QUICK if args.quick else FULL
    changes: dict[str, Any] = {}
    if args.processes:
        try:
            changes["processes"] = tuple(int(n) for n in args.processes.split(","))
        except ValueError:
            parser.error("--processes takes numbers separated by commas, e.g. 2,4")
        if any(n < 1 for n in changes["processes"]):
            parser.error("--processes: each count must be at least 1")
    if args.clients is not None:
        if args.clients < 1:
            parser.error("--clients must be at least 1")
        changes["clients"] = args.clients
    if args.notes is not None:
        if args.notes < 1:
            parser.error("--notes must be at least 1")
        changes["notes"] = args.notes
    if changes:
        from dataclasses import replace

        plan = replace(plan, **changes)
    started = time.monotonic()
    with MultiBench(plan, kinds, args.profile) as bench:
        results = bench.run()
    results["conditions"]["duration_s"] = round(time.monotonic() - started)
    table = markdown(results)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / f"{plan.name}.json").write_text(json.dumps(results, indent=1, default=str))
        (args.out / f"{plan.name}.md").write_text(table + "\n")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
