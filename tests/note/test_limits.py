"""``note.limits``: login, publishing and mark-read answer 429 with Retry-After past their rate.

In-process, through Django's test client; the counts are this process's
(``NOTES_LIMITS_REDIS`` unset) unless a test says Redis. Across processes:
tests/e2e/test_limits.py.
"""

from __future__ import annotations

import asyncio
import random
import uuid

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from prometheus_client import REGISTRY

from note.counters import RedisStore
from note.limits import Rate, parse_rate
from note.tokens import token_issue

pytestmark = pytest.mark.django_db


def refused(limit: str) -> float:
    return REGISTRY.get_sample_value("notes_limit_refused_total", {"limit": limit}) or 0.0


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice", password="right-horse-battery")


def test_rates_read_as_count_per_window():
    assert parse_rate("30/1m") == Rate(30, 60)
    assert parse_rate("10/s") == Rate(10, 1)
    assert parse_rate("5/2h") == Rate(5, 7200)
    assert parse_rate(None) is None
    for bad in ("30", "0/1m", "30/0m", "30/1y", 30, "x/1m"):
        with pytest.raises(ImproperlyConfigured):
            parse_rate(bad)


def test_a_bad_limit_setting_fails_the_system_check(settings):
    settings.NOTES_LIMIT_PUBLISH_PER_USER = "thirty a minute"
    settings.NOTES_LIMIT_SOCKETS_PER_USER = 0
    settings.NOTES_TRUSTED_PROXIES = ["10.0.0.0/8", "proxy.example"]
    with pytest.raises(SystemCheckError) as exc:
        call_command("check")
    message = str(exc.value)
    assert "NOTES_LIMIT_PUBLISH_PER_USER" in message
    assert "NOTES_LIMIT_SOCKETS_PER_USER" in message
    assert "NOTES_TRUSTED_PROXIES" in message


def test_mark_read_past_its_rate_answers_429_json_with_retry_after(client, alice, settings):
    settings.NOTES_LIMIT_MARK_READ_PER_USER = "3/1m"
    token = token_issue(user=alice)
    before = refused("mark_read_per_user")

    def mark():
        return client.post(
            "/api/notes/read/",
            {"all": True},
            content_type="application/json",
            headers={"Authorization": f"Bearer {token}"},
        )

    assert [mark().status_code for _ in range(3)] == [200, 200, 200]
    response = mark()
    assert response.status_code == 429
    assert response.json()["error"] == "too many requests"
    assert response.json()["limit"] == "mark_read_per_user"
    assert 1 <= int(response["Retry-After"]) <= 60
    assert refused("mark_read_per_user") == before + 1


def test_publishing_is_limited_per_user_not_for_everyone(
    client, alice, django_user_model, settings
):
    settings.NOTES_LIMIT_PUBLISH_PER_USER = "2/1m"
    bob = django_user_model.objects.create_user("bob")
    tokens = {"alice": token_issue(user=alice), "bob": token_issue(user=bob)}

    def publish(who):
        return client.post(
            "/api/news/",
            {"title": "t", "content": "c"},
            content_type="application/json",
            headers={"Authorization": f"Bearer {tokens[who]}"},
        )

    assert [publish("alice").status_code for _ in range(3)] == [201, 201, 429]
    assert publish("bob").status_code == 201


def test_the_page_form_and_the_api_share_the_publishing_count(client, alice, settings):
    settings.NOTES_LIMIT_PUBLISH_PER_USER = "1/1m"
    client.force_login(alice)
    assert client.post("/news/", {"title": "a", "content": "b"}).status_code == 302
    response = client.post("/news/", {"title": "a", "content": "b"})
    assert response.status_code == 429 and "Retry-After" in response


def test_login_attempts_per_username_are_refused_before_the_password_is_checked(
    client, alice, settings
):
    settings.NOTES_LIMIT_LOGIN_PER_USERNAME = "3/5m"
    for _ in range(3):
        wrong = client.post("/accounts/login/", {"username": "alice", "password": "wrong"})
        assert wrong.status_code == 200  # the form again, with its error
    # Past the limit even the right password is refused: guessing has stopped paying.
    response = client.post(
        "/accounts/login/", {"username": "ALICE ", "password": "right-horse-battery"}
    )
    assert response.status_code == 429
    assert response.json()["limit"] == "login_per_username"
    assert int(response["Retry-After"]) > 0
    assert "_auth_user_id" not in client.session


def test_login_attempts_per_address_cover_every_username(client, alice, settings):
    settings.NOTES_LIMIT_LOGIN_PER_ADDRESS = "2/5m"
    for name in ("x", "y"):
        client.post("/accounts/login/", {"username": name, "password": "p"})
    response = client.post(
        "/admin/login/", {"username": "alice", "password": "right-horse-battery"}
    )
    assert response.status_code == 429
    assert response.json()["limit"] == "login_per_address"
    # Another address is not held back by that one.
    other = client.post(
        "/accounts/login/",
        {"username": "alice", "password": "right-horse-battery"},
        REMOTE_ADDR="192.0.2.7",
    )
    assert other.status_code == 302


def test_a_forwarded_address_is_believed_only_from_a_trusted_proxy(client, settings):
    settings.NOTES_LIMIT_LOGIN_PER_ADDRESS = "1/5m"
    spoof = {"HTTP_X_FORWARDED_FOR": f"198.51.100.{uuid.uuid4().int % 250}"}
    client.post("/accounts/login/", {"username": "a", "password": "p"})
    # Not from a trusted proxy: a made-up X-Forwarded-For does not buy a new count.
    response = client.post("/accounts/login/", {"username": "a", "password": "p"}, **spoof)
    assert response.status_code == 429
    settings.NOTES_TRUSTED_PROXIES = ["127.0.0.1"]
    response = client.post("/accounts/login/", {"username": "a", "password": "p"}, **spoof)
    assert response.status_code == 200


def test_limits_fail_open_when_redis_is_unreachable(client, alice, settings):
    settings.NOTES_LIMITS_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    settings.NOTES_LIMIT_MARK_READ_PER_USER = "1/1m"
    before = REGISTRY.get_sample_value("notes_limit_store_errors_total") or 0.0
    client.force_login(alice)
    for _ in range(3):
        response = client.post("/api/notes/read/", {"all": True}, content_type="application/json")
        assert response.status_code == 200
    assert REGISTRY.get_sample_value("notes_limit_store_errors_total") > before


# The Redis store, as two processes would use it: two stores, two process ids.


@pytest.fixture
def two_processes(redis_url):
    prefix = f"rt-test-limits-{uuid.uuid4().hex[:8]}"
    first = RedisStore(redis_url, prefix, process_id="first", lease_seconds=0.6)
    second = RedisStore(redis_url, prefix, process_id="second", lease_seconds=60)
    yield first, second
    for store in (first, second):
        store.sync_client.close()


def test_two_processes_add_to_one_window(two_processes):
    first, second = two_processes
    assert first.hit("k", 60)[0] == 1
    assert second.hit("k", 60)[0] == 2
    count, left = first.hit("k", 60)
    assert count == 3 and 1 <= left <= 60


async def test_two_processes_share_the_open_socket_count(two_processes):
    first, second = two_processes
    assert await first.socket_acquire("user", 2)
    assert await second.socket_acquire("user", 2)
    assert not await first.socket_acquire("user", 2)
    await second.socket_release("user")
    assert await first.socket_acquire("user", 2)


async def test_a_dead_process_stops_holding_sockets_when_its_lease_ends(two_processes):
    first, second = two_processes
    assert await first.socket_acquire("user", 2)
    assert await first.socket_acquire("user", 2)
    assert not await second.socket_acquire("user", 2)
    first.held.clear()  # "killed": it renews nothing from now on
    first.renewer.cancel()
    await asyncio.sleep(0.8)  # its lease (0.6 s) has ended
    assert await second.socket_acquire("user", 2)
    assert await second.socket_acquire("user", 2)
    assert not await second.socket_acquire("user", 2)


async def test_a_live_process_keeps_its_sockets_past_one_lease(two_processes):
    first, second = two_processes
    assert await first.socket_acquire("user", 1)
    await asyncio.sleep(1.0)  # longer than its lease: only renewal keeps the slot
    assert not await second.socket_acquire("user", 1)


async def test_a_renewer_stops_when_cancelled_wherever_the_cancel_lands(redis_url):
    """A shutdown cancels every task and waits for it: a renewer that outlives its
    cancel (one landing inside the Redis client came out as the client's own
    error, and the loop swallowed it) holds the shutdown forever."""
    rng = random.Random(18)
    for _ in range(100):
        store = RedisStore(
            redis_url, f"rt-test-limits-{uuid.uuid4().hex[:8]}", process_id="p", lease_seconds=0.006
        )
        assert await store.socket_acquire("user", 5)  # starts renewing every 2 ms
        await asyncio.sleep(rng.random() * 0.02)
        store.renewer.cancel()
        done, _ = await asyncio.wait({store.renewer}, timeout=1.0)
        store.held.clear()  # so that one that did not stop ends at its next turn
        await store._async_client().aclose()
        store.sync_client.close()
        assert done, "the renewer was still running a second after its cancel"
