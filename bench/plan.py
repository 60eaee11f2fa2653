"""How big each workload is: the full run (``make bench``), the smoke run (``make bench-quick``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Plan:
    name: str
    workers: int  # load-generator processes
    broadcast_sizes: tuple[int, ...]  # A: connected clients
    broadcast_notes: int  # A: notes per size
    idle_clients: int  # E, D and the A row of that size share these sockets
    targeted_users: int  # B
    targeted_rate: float  # B: notes per second
    targeted_seconds: float  # B
    storm_clients: int  # C
    posts: int  # D
    post_rate: float  # D: requests per second
    missed: int  # F
    core_sizes: tuple[int, ...]  # A for the tutorial on RedisChannelLayer
    write_seconds: float  # W1: seconds per row of the write plan (bench/writes.py)

    @property
    def users(self) -> int:
        return max(*self.broadcast_sizes, self.targeted_users, self.storm_clients)


FULL = Plan(
    name="full",
    workers=4,
    broadcast_sizes=(500, 2000, 5000),
    broadcast_notes=20,
    idle_clients=2000,
    targeted_users=2000,
    targeted_rate=50,
    targeted_seconds=10,
    storm_clients=2000,
    posts=50,
    post_rate=5,
    missed=1000,
    core_sizes=(100, 200, 500),
    write_seconds=8.0,
)

QUICK = Plan(
    name="quick",
    workers=3,
    broadcast_sizes=(200, 1000),
    broadcast_notes=5,
    idle_clients=1000,
    targeted_users=500,
    targeted_rate=50,
    targeted_seconds=2,
    storm_clients=500,
    posts=10,
    post_rate=5,
    missed=200,
    core_sizes=(200,),
    write_seconds=2.0,
)
