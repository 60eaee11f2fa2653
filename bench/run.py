"""One bench run: every server, every workload, one machine, one Redis, then the report.

Order per server: a fresh process, warmed by one client and one note; its
baseline memory; the idle sockets of E (which D and one A row then use);
the other A sizes; B; for ours D without clients and F. The connect storm C
gets a fresh process of its own, as after a restart, when every client
comes back at once.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import time
from pathlib import Path
from typing import Any

from bench import database, report
from bench.loadgen import LoadPool, raise_fd_limit
from bench.plan import FULL, QUICK, Plan
from bench.profile import Recorder
from bench.publish import BarePublisher, LoopThread, OursPublisher, TutorialPublisher
from bench.servers import Server, ServerKind
from bench.workloads import BenchError, Target, broadcast, memory, publishing, resume, storm
from bench.workloads import targeted as targeted_workload
from bench.writes import writes

KINDS = ("ours", "tutorial", "tutorial-core", "bare")


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class Bench:
    def __init__(self, plan: Plan, kinds: list[str], profile: Path | None = None) -> None:
        self.plan = plan
        self.profile = profile
        self.kinds = kinds
        self.prefix = f"bench-{secrets.token_hex(4)}"
        self.env = database.server_env(self.prefix)
        self.io: LoopThread | None = None
        self.pool: LoadPool | None = None
        self.servers: list[Server] = []

    # set-up and tear-down

    def __enter__(self) -> Bench:
        raise_fd_limit()
        self.pool = LoadPool(self.plan.workers)  # spawned before Django and threads load
        log(f"database {database.DATABASE} (recreated), Redis prefix {self.prefix}")
        database.recreate_database()
        database.setup_django(self.prefix)
        self.users = database.create_users(self.plan.users)
        (self.poster,) = database.create_users_named(["bench-poster"])
        self.io = LoopThread()
        return self

    def __exit__(self, *exc: Any) -> None:
        for server in self.servers:
            server.stop()
        if self.pool is not None:
            self.pool.shutdown()
        if self.io is not None:
            self.io.stop()
        database.close_connections()

    def kind(self, key: str) -> ServerKind:
        redis_url = database.REDIS_URL
        if key == "ours":
            return ServerKind("ours", "ours: daphne + hub", env=self.env, ours=True)
        if key.startswith("tutorial"):
            layer = "core" if key == "tutorial-core" else "pubsub"
            name = "RedisChannelLayer" if layer == "core" else "RedisPubSubChannelLayer"
            env = {
                "BENCH_LAYER": layer,
                "REDIS_URL": redis_url,
                "BENCH_PREFIX": f"{self.prefix}-{key}",
            }
            return ServerKind(key, f"tutorial: daphne + {name}", env=env)
        return ServerKind(
            "bare", "bare websockets", argv=[redis_url, f"{self.prefix}:bare"], env={}
        )

    def publisher(self, kind: ServerKind):
        assert self.io is not None
        if kind.ours:
            return OursPublisher(self.poster.id)
        if kind.key.startswith("tutorial"):
            return TutorialPublisher(
                self.io, kind.env["BENCH_LAYER"], kind.env["BENCH_PREFIX"], database.REDIS_URL
            )
        return BarePublisher(self.io, database.REDIS_URL, kind.argv[1])

    def start(self, kind: ServerKind, publisher, phase: str = "") -> Target:
        server = Server(kind).start()
        self.servers.append(server)
        if self.profile is not None:
            self.profile.mkdir(parents=True, exist_ok=True)
            server.recorder = Recorder(server.pid, self.profile / f"{kind.key}{phase}.txt")
        assert self.pool is not None
        return Target(server, publisher, self.pool, self.users, kind.ours)

    def stop(self, target: Target) -> None:
        if target.server.recorder is not None:
            target.server.recorder.stop()
        target.server.stop()
        self.servers.remove(target.server)

    # the run

    def run(self) -> dict[str, Any]:
        results: dict[str, Any] = {"conditions": report.conditions(self.plan)}
        for key in self.kinds:
            kind = self.kind(key)
            publisher = self.publisher(kind)
            try:
                if key == "tutorial-core":
                    results[key] = self.run_core(kind, publisher)
                else:
                    results[key] = self.run_kind(kind, publisher)
            finally:
                if hasattr(publisher, "close"):
                    publisher.close()
        results["conditions"]["load_after"] = report.load_average()
        return results

    def run_kind(self, kind: ServerKind, publisher) -> dict[str, Any]:
        plan, out = self.plan, {"label": kind.label}
        target = self.start(kind, publisher)
        try:
            log(f"{kind.key}: warm-up")
            broadcast(target, 1, 1)
            target.pool.close_clients()
            time.sleep(1)
            baseline = target.server.rss_bytes()
            log(f"{kind.key}: E memory, {plan.idle_clients} idle sockets")
            target.connect(plan.idle_clients)
            out["E"] = memory(target, plan.idle_clients, baseline)
            if kind.ours:
                log(f"{kind.key}: D POST /api/news/ with {plan.idle_clients} sockets")
                out["D"] = publishing(
                    target, self.poster, plan.posts, plan.post_rate, plan.idle_clients
                )
            out["A"] = []
            # The size that matches the idle sockets goes first, on those sockets.
            sizes = sorted(plan.broadcast_sizes, key=lambda n: n != plan.idle_clients)
            for size in sizes:
                log(f"{kind.key}: A broadcast to {size}")
                connected = size == plan.idle_clients
                out["A"].append(broadcast(target, size, plan.broadcast_notes, connected=connected))
                target.pool.close_clients()
                time.sleep(1)
            out["A"].sort(key=lambda row: row["clients"])
            log(f"{kind.key}: B targeted, {plan.targeted_users} users at {plan.targeted_rate}/s")
            out["B"] = targeted_workload(
                target, plan.targeted_users, plan.targeted_rate, plan.targeted_seconds
            )
            if kind.ours:
                # As after each A size: let the server finish B's 2,000
                # disconnects, or D0's first POST measures them (900 ms).
                time.sleep(1)
                log(f"{kind.key}: D POST /api/news/ without sockets")
                out["D0"] = publishing(target, self.poster, plan.posts, plan.post_rate, 0)
                log(f"{kind.key}: F resume after {plan.missed} missed notes")
                out["F"] = resume(target, publisher, plan.missed, self.users[0])
                log(f"{kind.key}: W the write plan")
                out["W"] = writes(target, seconds=plan.write_seconds, connected=plan.idle_clients)
            out["log_tail"] = target.server.logs()[-2000:]
        finally:
            self.stop(target)
        out["C"] = self.run_storm(kind, publisher, plan.storm_clients)
        return out

    def run_storm(self, kind: ServerKind, publisher, clients: int) -> dict[str, Any]:
        log(f"{kind.key}: C connect storm of {clients}")
        target = self.start(kind, publisher, "-storm")
        try:
            return storm(target, clients)
        finally:
            self.stop(target)

    def run_core(self, kind: ServerKind, publisher) -> dict[str, Any]:
        """The tutorial's default layer: where it stops working, not a full table."""
        out: dict[str, Any] = {"label": kind.label, "A": []}
        target = self.start(kind, publisher)
        try:
            for size in self.plan.core_sizes:
                log(f"{kind.key}: A broadcast to {size}")
                try:
                    out["A"].append(broadcast(target, size, self.plan.broadcast_notes))
                except BenchError as exc:
                    out["A"].append({"clients": size, "error": str(exc)[:200]})
                target.pool.close_clients()
        finally:
            self.stop(target)
        out["C"] = self.run_storm(kind, publisher, self.plan.core_sizes[-1])
        return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="the smoke run (under two minutes)")
    parser.add_argument("--only", default=",".join(KINDS), help=f"servers, of {','.join(KINDS)}")
    parser.add_argument("--png", type=Path, help="write the latency plot here")
    parser.add_argument("--out", type=Path, help="write <plan>.json and <plan>.md into DIR")
    parser.add_argument("--profile", type=Path, help="record each server with py-spy into DIR")
    args = parser.parse_args(argv)
    kinds = [k for k in args.only.split(",") if k]
    unknown = set(kinds) - set(KINDS)
    if unknown:
        parser.error(f"unknown server(s) {', '.join(sorted(unknown))}; choose from {KINDS}")
    plan = QUICK if args.quick else FULL
    started = time.monotonic()
    with Bench(plan, kinds, args.profile) as bench:
        results = bench.run()
    results["conditions"]["duration_s"] = round(time.monotonic() - started)
    table = report.markdown(results)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / f"{plan.name}.json").write_text(json.dumps(results, indent=1, default=str))
        (args.out / f"{plan.name}.md").write_text(table + "\n")
    print(table)
    if args.png:
        report.plot(results, args.png)
        log(f"plot written to {args.png}")
    return 0
