"""The capacity bench's arithmetic (``bench/capacity.py``), on windows made up here.

The bench itself needs a machine to itself and minutes (``make bench-capacity``);
what docs/capacity.md takes from it is this arithmetic: the servers' work at
rest taken off each window statement by statement, CPU less idle CPU, per unit.
"""

from __future__ import annotations

import argparse

from bench.capacity import short, unit_costs

CATCH_UP = 'SELECT MAX("note_note"."id") AS "m" FROM "note_note" WHERE "note_note"."id" > $1'
TOKEN = 'SELECT "note_apitoken"."id", "note_apitoken"."user_id" FROM "note_apitoken"'


def window(seconds, by_statement, *, cpu, units, cpu_seconds=None, redis=None):
    return {
        "seconds": seconds,
        "statements": sum(by_statement.values()),
        "by_statement": by_statement,
        "sender_statements": 0,
        "sender_by_statement": {},
        "redis": redis or {},
        "redis_out_bytes": 0,
        "cpu": cpu,
        "cpu_seconds": seconds if cpu_seconds is None else cpu_seconds,
        "units": units,
    }


def test_background_statements_and_idle_cpu_are_taken_off_per_unit():
    idle_1 = window(10, {CATCH_UP: 10}, cpu=[0.1], units=0)  # 1 statement/s, 10 ms CPU/s
    idle_2 = window(10, {CATCH_UP: 20}, cpu=[0.1, 0.1], units=0)
    results = {
        "idle_1": idle_1,
        "idle_2": idle_2,
        # 100 connects in a 20 s window: 20 catch-ups ran meanwhile, 3 statements each connect.
        "connect": window(20, {CATCH_UP: 20, TOKEN: 300}, cpu=[0.5], units=100),
        "disconnect": window(20, {CATCH_UP: 20}, cpu=[0.2], units=100),
        "resume": window(20, {CATCH_UP: 20, TOKEN: 400}, cpu=[0.2], units=100),
        # 100 public notes to 1,000 sockets, 10 s of sending: 1.3 CPU-s, 0.1 of it idle.
        "public_1": window(
            22, {CATCH_UP: 22}, cpu=[1.3], cpu_seconds=10, units=100, redis={"publish": 100}
        ),
        "private_present_1": window(22, {CATCH_UP: 22}, cpu=[0.3], cpu_seconds=10, units=100),
        # 1,000 notes nobody there wants: 0.36 CPU-s in 10 s, 0.1 of it idle.
        "private_absent_1": window(22, {CATCH_UP: 22}, cpu=[0.36], cpu_seconds=10, units=1000),
        "private_absent_2": window(22, {CATCH_UP: 44}, cpu=[0.36, 0.3], cpu_seconds=10, units=1000),
        "private_present_2": window(22, {CATCH_UP: 44}, cpu=[0.2, 0.2], cpu_seconds=10, units=100),
        "public_2": window(22, {CATCH_UP: 44}, cpu=[0.8, 0.7], cpu_seconds=10, units=100),
    }
    units = unit_costs(results, argparse.Namespace(clients=1000, rate=10.0))

    assert units["connect"]["statements"] == 3.0
    assert units["connect"]["by_statement"] == {short(TOKEN): 3.0}
    assert units["disconnect"]["statements"] == 0.0
    assert units["resume"]["statements"] == 4.0
    assert units["public_1"]["statements"] == 0.0
    assert units["public_1"]["redis"] == {"publish": 1.0}
    assert units["private_absent_1"]["server_cpu_ms"] == [0.26]
    assert units["private_absent_2"]["server_cpu_ms"] == [0.26, 0.2]
    assert units["cpu_us_per_frame_1"] == 12.0  # (1.3 - 0.1) s / (100 notes x 1,000 sockets)
    check = units["check_public_2"]
    assert check["clients_per_process"] == 500
    assert check["predicted_cpu_s"] == [0.7, 0.7]  # 100 x 500 x 12 us + 0.1 idle
    assert check["measured_cpu_s"] == [0.8, 0.7]


def test_statement_names_fold_savepoints_and_name_foreign_key_checks():
    assert short('SAVEPOINT "s139683533282176_x19"') == short('SAVEPOINT "s1_x2"')
    fk = 'SELECT $2 FROM ONLY "public"."note_note" x WHERE "id" OPERATOR(pg_catalog.=) $1'
    assert short(fk) == "(foreign-key check) note_note"
    assert short("SELECT  1\n  FROM t") == "SELECT 1 FROM t"
