"""``python -m bench.token_storm``: a reconnect storm after a restart, with and without
the token cache (issue 15).

For each mode (``TOKEN_CACHE_SECONDS=off``, then the default cache): one
server process serves every client once (as before a restart: the cache is
warm), is stopped, and a fresh process takes the storm: ``--clients``
token sockets opened at once, each counted when it has ``hello`` and
``synced``. Reported: the time until all are connected, the rate
(clients / that time), and what PostgreSQL counted for the storm's server
(``pg_stat_database`` transactions and rows returned, ``pg_stat_user_tables``
scans of the token table), read once the server's sessions have ended (a
session reports its counts as it ends). PostgreSQL and Redis as in
``bench/database.py``; run it under ``flock /tmp/bench.lock``.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import time

from bench import database
from bench.loadgen import LoadPool, raise_fd_limit
from bench.servers import Server, ServerKind
from bench.workloads import pct

STATS = """
SELECT d.xact_commit, d.tup_returned,
       COALESCE(t.seq_scan, 0) + COALESCE(t.idx_scan, 0)
FROM pg_stat_database d, pg_stat_user_tables t
WHERE d.datname = current_database() AND t.relname = 'note_apitoken'
"""


def log(message: str) -> None:
    print(f"[token-storm {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def stats() -> tuple[int, int, int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(STATS)
        return tuple(cursor.fetchone())


APPLICATION = "bench-token-storm"
METRICS_TOKEN = secrets.token_urlsafe(16)


def token_paths(port: int) -> dict[str, int]:
    """``realtime_token_checks_total`` of the server by path: where its answers came from."""
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read().decode()
    return {
        sample.labels["path"]: int(sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "realtime_token_checks_total"
    }


def sessions_gone(timeout: float = 30.0) -> None:
    """Wait until the server's sessions have left the bench database."""
    from django.db import connection

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND application_name = %s",
                [APPLICATION],
            )
            if cursor.fetchone()[0] == 0:
                time.sleep(0.5)  # each session reports its counts as it ends
                return
        time.sleep(0.1)
    raise RuntimeError("the server's database sessions did not end")


def run_mode(pool: LoadPool, users, prefix: str, mode: str, clients: int) -> dict:
    env = {
        **database.server_env(prefix),
        "TOKEN_CACHE_SECONDS": mode,
        "PGAPPNAME": APPLICATION,
        "METRICS_TOKEN": METRICS_TOKEN,
    }
    kind = ServerKind("ours", "ours", env=env, ours=True)
    specs = [_spec(u.id, u.token) for u in (users[i % len(users)] for i in range(clients))]
    log(f"{mode}: before the restart, every client once")
    server = Server(kind).start()
    try:
        warm = pool.connect("127.0.0.1", server.port, specs, until_synced=True, batch=200)
        pool.close_clients()
        if warm.ok != clients:
            raise RuntimeError(f"warm-up: {warm.ok} of {clients} ({dict(warm.errors)})")
    finally:
        server.stop()
    sessions_gone()
    before = stats()
    log(f"{mode}: a fresh process, {clients} clients at once")
    server = Server(kind).start()
    try:
        result = pool.connect(
            "127.0.0.1", server.port, specs, until_synced=True, batch=0, timeout=120
        )
        paths = token_paths(server.port)
        pool.close_clients()
    finally:
        server.stop()
    sessions_gone()
    after = stats()
    commits, rows, token_scans = (a - b for a, b in zip(after, before, strict=True))
    times = result.ready_times
    took = max(times) if times else float("nan")
    return {
        "mode": mode,
        "clients": clients,
        "connected": result.ok,
        "p50_s": round(pct(times, 50), 2),
        "all_s": round(took, 2),
        "rate": round(result.ok / took, 1) if times else 0.0,
        "errors": dict(result.errors.most_common(3)),
        # The whole server process, start to stop: its hub's own reads included.
        "transactions_per_connect": round(commits / max(1, result.ok), 2),
        "rows_per_connect": round(rows / max(1, result.ok), 1),
        "token_scans": token_scans,
        "paths": paths,
    }


def _spec(user_id: int, token: str):
    from bench.loadgen import ClientSpec

    return ClientSpec(user_id, "/ws/notes/", {"Authorization": f"Bearer {token}"})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.token_storm", description=__doc__)
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=4, help="load-generator processes")
    parser.add_argument("--modes", default="off,10800", help="TOKEN_CACHE_SECONDS values")
    args = parser.parse_args(argv)
    raise_fd_limit()
    pool = LoadPool(args.workers)  # spawned before Django and threads load
    prefix = f"bench-tokens-{secrets.token_hex(4)}"
    try:
        database.recreate_database()
        database.setup_django(prefix)
        users = database.create_users(args.clients)
        database.close_connections()
        rows = [
            run_mode(pool, users, f"{prefix}-{mode}", mode, args.clients)
            for mode in args.modes.split(",")
        ]
    finally:
        pool.shutdown()
    print(
        "| TOKEN_CACHE_SECONDS | clients | connected | p50 s | all s | clients/s "
        "| transactions / connect | rows returned / connect | token table scans "
        "| token checks by path | errors |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(
            f"| {r['mode']} | {r['clients']} | {r['connected']} | {r['p50_s']} | {r['all_s']} "
            f"| {r['rate']} | {r['transactions_per_connect']} | {r['rows_per_connect']} "
            f"| {r['token_scans']} | {r['paths']} | {r['errors'] or ''} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
