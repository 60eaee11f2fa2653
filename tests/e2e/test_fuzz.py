"""Hypothesis-generated garbage against a live server: it stays up, answers
every frame with an error frame (or what the frame asked for), and nothing a
client sends reaches another user. The same for the JSON API.

``docs/reliability.md`` reports how many frames a run sends (``FUZZ_EXAMPLES``
scales it; CI runs the default).
"""

from __future__ import annotations

import asyncio
import json
import os
import urllib.parse

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from note.services import note_create
from tests.support import ws
from tests.support.data import adb, make_user_with_token
from tests.support.http import call

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "60"))
SENT = {"frames": 0, "batches": 0, "api_calls": 0}  # reported by the last test (pytest -s)
ERROR_CODES = {"bad_json", "bad_request", "unknown_type", "rate_limited"}
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=25,
)
commands = st.fixed_dictionaries(
    {"type": st.sampled_from(["ping", "mark_read", "subscribe", "", "MARK_READ"]) | json_values},
    optional={"ids": json_values | st.lists(st.integers(-(2**70), 2**70)), "all": json_values},
)
deep = st.integers(min_value=100, max_value=20_000).map(lambda n: "[" * n + "]" * n)
huge_number = st.integers(min_value=4_000, max_value=20_000).map(
    lambda n: '{"type":"mark_read","ids":[' + "9" * n + "]}"
)
frames = st.one_of(
    st.binary(max_size=2_000),
    st.text(max_size=2_000),
    json_values.map(json.dumps),
    commands.map(json.dumps),
    deep,
    huge_number,
)


@pytest.fixture(scope="module")
def fuzz_server(start_server):
    # Limits high enough that every frame is parsed (flooding has its own test).
    return start_server(WS_RATE_PER_SECOND="100000", WS_RATE_BURST="100000")


@pytest.fixture(scope="module")
def victim(fuzz_server, e2e_db):
    """Another user with a private note: the fuzzer must never see or touch it."""
    user, token = make_user_with_token("victim")
    note = note_create(kind="secret", title="victim's secret", recipients=[user])[0]
    return user, token, note


@FUZZ
@given(batch=st.lists(frames, min_size=1, max_size=25))
def test_random_frames_get_error_frames_and_never_crash_or_leak(fuzz_server, victim, batch):
    asyncio.run(send_batch(fuzz_server, victim, batch))


async def send_batch(server, victim, batch) -> None:
    _, token = await adb(make_user_with_token, "fuzzer")
    sock = await ws.connect(server.ws_url, token=token, after=0)
    _, replayed, _ = await ws.handshake(sock)
    assert victim[2].id not in {n["id"] for n in replayed}
    for frame in batch:
        await sock.send(frame)
    SENT["frames"] += len(batch) + 1
    SENT["batches"] += 1
    await sock.send(json.dumps({"type": "ping"}))
    answers = []
    while True:
        frame = await ws.recv(sock, timeout=10)
        if frame["type"] == "pong" and len(answers) >= sum(is_ping(f) for f in batch):
            break
        answers.append(frame)
    for frame in answers:
        assert frame["type"] in {"error", "pong", "unread"}, frame
        if frame["type"] == "error":
            assert frame["code"] in ERROR_CODES
            assert "Traceback" not in frame["message"] and len(frame["message"]) < 200
    await sock.close()


def is_ping(frame) -> bool:
    try:
        return json.loads(frame) == {"type": "ping"}
    except (ValueError, RecursionError, TypeError):
        return False


def test_after_fuzzing_the_server_is_up_and_the_victim_untouched(fuzz_server, victim):
    user, token, note = victim
    status, health = call(f"{fuzz_server.http_url}/healthz")
    assert (status, health) == (200, {"database": "ok", "channel_layer": "ok"})
    status, body = call(f"{fuzz_server.http_url}/api/notes/?limit=100", token=token)
    assert status == 200 and body["unread"] >= 1
    mine = next(n for n in body["notes"] if n["id"] == note.id)
    assert mine["read"] is False  # nobody else's mark_read reached it
    assert fuzz_server.proc.poll() is None
    assert "Traceback" not in fuzz_server.logs()


bodies = st.one_of(
    st.binary(max_size=500),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries(
        {}, optional={"title": json_values, "content": json_values, "ids": json_values}
    ).map(lambda v: json.dumps(v).encode()),
)
query = st.dictionaries(
    st.sampled_from(["limit", "before", "after", "x"]),
    st.text(max_size=30) | st.integers(-(2**70), 2**70).map(str),
    max_size=3,
)


@pytest.fixture(scope="module")
def api_fuzzer(fuzz_server, e2e_db):
    return make_user_with_token("api-fuzzer")[1]


@FUZZ
@given(body=bodies, params=query, path=st.sampled_from(["/api/news/", "/api/notes/read/"]))
def test_the_json_api_answers_json_to_anything(fuzz_server, api_fuzzer, body, params, path):
    token = api_fuzzer
    SENT["api_calls"] += 2
    status, answer = call(f"{fuzz_server.http_url}{path}", method="POST", body=body, token=token)
    assert status in {200, 201, 400}, (status, answer)
    assert isinstance(answer, dict), answer  # parsed as JSON, never an HTML page
    url = f"{fuzz_server.http_url}/api/notes/?{urllib.parse.urlencode(params)}"
    status, answer = call(url, token=token)
    assert status in {200, 400} and isinstance(answer, dict), (status, answer)


def test_frames_never_cross_users(fuzz_server, victim):
    """The fuzzer's mark_read of the victim's id changed nothing for the victim."""
    _, token, note = victim
    _, fuzz_token = make_user_with_token("fuzzer")
    for command in ({"ids": [note.id]}, {"all": True}):
        status, answer = call(
            f"{fuzz_server.http_url}/api/notes/read/", method="POST", body=command, token=fuzz_token
        )
        assert status == 200
    status, body = call(f"{fuzz_server.http_url}/api/notes/?limit=100", token=token)
    assert next(n for n in body["notes"] if n["id"] == note.id)["read"] is False
    print(f"fuzzed: {SENT}; server up, nothing leaked")
