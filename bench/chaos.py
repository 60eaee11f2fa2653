"""The long chaos run: ``python bench/chaos.py [--clients 500 --notes 5000 --seconds 180]``.

Two daphne processes on a private ``redis-server``, a database of its own
(a temporary SQLite file, or ``--database-url``), users with tokens and
anonymous clients; then ``tests.support.chaos.run_chaos``: Redis restarted, a
server killed and started again, clients dropped, all while notes are
created. Prints the report as a markdown table (``docs/reliability.md``) and
exits 1 if any client lost, repeated or saw a note it should not.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--notes", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=180)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    args = parser.parse_args()

    from bench.standalone import prepare
    from tests.support.services import RedisServer

    redis = RedisServer()
    redis.start()
    # This process creates the notes: same database, same layer as the servers.
    database_url, prefix = prepare("chaos", redis_url=redis.url, database_url=args.database_url)
    from note.models import Note
    from note.services import note_create
    from tests.support.chaos import run_chaos
    from tests.support.daphne import DaphneServer
    from tests.support.data import make_user_with_token

    users = [make_user_with_token(f"chaos{i}") for i in range(args.users)]
    servers = [
        DaphneServer(
            database_url=database_url,
            redis_url=redis.url,
            layer_prefix=prefix,
            extra_env={"LOG_LEVEL": "WARNING"},
        ).start()
        for _ in range(2)
    ]

    def create_note(recipient) -> int:
        recipients = None if recipient is None else [recipient]
        return note_create(kind="chaos", title="chaos", recipients=recipients)[0].id

    def last_note_id() -> int:
        return Note.objects.order_by("-id").values_list("id", flat=True).first() or 0

    try:
        report = asyncio.run(
            run_chaos(
                servers=servers,
                redis=redis,
                users=users,
                create_note=create_note,
                last_note_id=last_note_id,
                clients=args.clients,
                notes=args.notes,
                seconds=args.seconds,
                seed=args.seed,
                settle=120,
            )
        )
    finally:
        for server in servers:
            server.stop()
        redis.stop()
    print(report.table())
    return 0 if report.clean else 1


if __name__ == "__main__":
    sys.exit(main())
