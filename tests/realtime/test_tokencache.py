"""The token cache: handshakes without the database, and revocation still wins (issue 15).

Against the test Redis (``TEST_REDIS_URL``) under a private prefix, and the
test database; the database check is the real ``token_authenticate``, counted.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from channels.db import database_sync_to_async
from django.core.checks import run_checks

from note.models import ApiToken
from note.tokens import secret_hash, token_authenticate, token_issue
from realtime import metrics, tokencache
from realtime.tokencache import KnownChanges, Snapshot
from tests.support.services import free_port

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def cache_on(settings, redis_url, monkeypatch):
    """The cache on the test Redis, and a process that has just read the change log."""
    settings.NOTES_LIMITS_REDIS = redis_url
    settings.NOTES_TOKEN_CACHE_PREFIX = f"rt-test-tokens-{uuid.uuid4().hex[:8]}"
    known = KnownChanges()
    known.loaded = True
    known.log_read(started=time.time())
    monkeypatch.setattr(tokencache, "known", known)
    return known


class Counted:
    """``token_authenticate`` on a database thread, counting its calls."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, raw: str):
        self.calls += 1
        return await database_sync_to_async(token_authenticate)(raw)


def path_count(path: str) -> float:
    return metrics.token_checks.labels(path)._value.get()


async def issued(django_user_model, name: str = "alice") -> tuple[object, str]:
    def make():
        user = django_user_model.objects.create_user(f"{name}-{uuid.uuid4().hex[:6]}")
        return user, token_issue(user=user)

    return await database_sync_to_async(make)()


async def test_an_issued_token_is_cached_so_its_first_handshake_reads_no_database(
    cache_on, django_user_model
):
    user, raw = await issued(django_user_model)
    check = Counted()
    cached_before = path_count("cached")

    found = await tokencache.token_identity(raw, check)

    assert check.calls == 0
    assert path_count("cached") == cached_before + 1
    got_user, credential = found
    assert (got_user.pk, got_user.username, got_user.date_joined) == (
        user.pk,
        user.username,
        user.date_joined,
    )
    assert credential.user_key == str(user.pk) and credential.token_id is not None


async def test_a_storm_of_handshakes_at_once_is_answered_from_the_cache(
    cache_on, django_user_model
):
    """Thousands at once: batched into a few round trips, not one pooled Redis connection
    each (redis-py's asyncio pool raises past 100)."""
    _, raw = await issued(django_user_model)
    check = Counted()
    down_before = path_count("down")

    found = await asyncio.gather(*(tokencache.token_identity(raw, check) for _ in range(2000)))

    assert all(f is not None for f in found)
    assert check.calls == 0
    assert path_count("down") == down_before


async def test_a_miss_reads_the_database_once_then_hits(cache_on, django_user_model):
    _, raw = await issued(django_user_model)
    cache = tokencache.current()
    cache.sync_client.delete(f"{cache.prefix}:t:{secret_hash(raw)}")  # as if it expired
    check = Counted()

    first = await tokencache.token_identity(raw, check)
    second = await tokencache.token_identity(raw, check)

    assert first is not None and second is not None
    assert check.calls == 1
    assert second[1] == first[1]


async def test_a_snapshot_cached_before_the_users_change_is_not_believed(
    cache_on, django_user_model
):
    user, raw = await issued(django_user_model)
    check = Counted()
    assert await tokencache.token_identity(raw, check) is not None and check.calls == 0

    # The user is deactivated, and the Redis delete that follows is lost:
    # this process has heard of the change (over the layer, or from the log).
    await database_sync_to_async(
        lambda: type(user).objects.filter(pk=user.pk).update(is_active=False)
    )()
    cache_on.learned(str(user.pk))

    assert await tokencache.token_identity(raw, check) is None
    assert check.calls == 1


async def test_a_deleted_tokens_snapshot_is_refused_once_the_change_is_known(
    cache_on, django_user_model
):
    user, raw = await issued(django_user_model)
    await database_sync_to_async(lambda: ApiToken.objects.filter(user=user).delete())()
    check = Counted()
    # Deleting wrote a CredentialChange row: this process learns of it.
    tokencache.credentials_changed(str(user.pk))

    assert await tokencache.token_identity(raw, check) is None
    assert check.calls == 1


async def test_a_change_deletes_the_users_snapshots_from_redis(cache_on, django_user_model):
    user, raw = await issued(django_user_model)
    cache = tokencache.current()
    assert cache.sync_client.exists(f"{cache.prefix}:t:{secret_hash(raw)}")

    assert await cache.forget_user(str(user.pk)) == 1

    assert not cache.sync_client.exists(f"{cache.prefix}:t:{secret_hash(raw)}")
    assert not cache.sync_client.exists(f"{cache.prefix}:u:{user.pk}")


async def test_nothing_cached_is_believed_when_the_change_log_was_not_read_lately(
    cache_on, django_user_model, settings
):
    _, raw = await issued(django_user_model)
    settings.NOTES_CATCH_UP_SECONDS = 1.0
    cache_on.read_at = time.time() - 60  # the hub's reads have been failing
    check = Counted()
    unsure_before = path_count("unsure")

    assert await tokencache.token_identity(raw, check) is not None

    assert check.calls == 1
    assert path_count("unsure") == unsure_before + 1


async def test_with_redis_down_a_valid_token_is_checked_in_the_database(
    settings, django_user_model, monkeypatch
):
    known = KnownChanges()
    known.loaded = True
    known.log_read(started=time.time())
    monkeypatch.setattr(tokencache, "known", known)
    settings.NOTES_LIMITS_REDIS = f"redis://127.0.0.1:{free_port()}/0"
    settings.NOTES_TOKEN_CACHE_PREFIX = f"rt-test-tokens-{uuid.uuid4().hex[:8]}"
    user, raw = await issued(django_user_model)  # the write-through fails quietly
    check = Counted()

    found = await tokencache.token_identity(raw, check)
    again = await tokencache.token_identity(raw, check)

    assert found is not None and found[0].pk == user.pk
    assert again is not None
    assert check.calls == 2
    assert await tokencache.token_identity("rtn_not-a-token", check) is None


async def test_an_expired_snapshot_is_checked_again(cache_on, django_user_model):
    user, raw = await issued(django_user_model)
    cache = tokencache.current()
    snapshot = Snapshot(str(user.pk), user.username, None, 1, time.time() - 1, time.time())
    cache.sync_client.set(f"{cache.prefix}:t:{secret_hash(raw)}", snapshot.dumps())
    check = Counted()

    found = await tokencache.token_identity(raw, check)

    assert check.calls == 1
    assert found is not None and found[1].expires is None  # the database's answer


async def test_a_cached_user_loads_only_its_cached_fields_and_saves_only_them(
    cache_on, django_user_model
):
    user, raw = await issued(django_user_model)
    await database_sync_to_async(
        lambda: type(user).objects.filter(pk=user.pk).update(email="a@example.com")
    )()
    cached, _ = await tokencache.token_identity(raw, Counted())

    assert "email" in cached.get_deferred_fields()
    assert "password" in cached.get_deferred_fields()


def test_known_changes_stay_bounded_and_distrust_what_they_forgot():
    known = KnownChanges(max_users=2)
    for key, at in (("1", 10.0), ("2", 20.0), ("3", 30.0)):
        known.learned(key, at=at)

    assert list(known.changed) == ["2", "3"]
    assert known.floor == 10.0
    assert not known.trusts(Snapshot("1", "a", None, 1, None, 9.0), skew=0)
    assert known.trusts(Snapshot("1", "a", None, 1, None, 11.0), skew=0)
    assert not known.trusts(Snapshot("3", "a", None, 1, None, 31.0), skew=2)
    assert known.trusts(Snapshot("3", "a", None, 1, None, 33.0), skew=2)
    known.forget_before(25.0)
    assert list(known.changed) == ["3"]


def test_known_changes_are_not_fresh_before_the_log_is_loaded():
    known = KnownChanges()
    known.log_read(started=time.time())
    assert not known.fresh(now=time.time(), within=10)
    known.loaded = True
    assert known.fresh(now=time.time(), within=10)


@pytest.mark.parametrize(
    "name, value, check_id",
    [
        ("NOTES_TOKEN_CACHE_SECONDS", 0, "realtime.E010"),
        ("NOTES_TOKEN_CACHE_SECONDS", 2 * 86400, "realtime.E010"),
        ("NOTES_TOKEN_CACHE_SECONDS", "3h", "realtime.E010"),
        ("NOTES_TOKEN_CACHE_SKEW_SECONDS", -1, "realtime.E011"),
        ("NOTES_TOKEN_CACHE_PREFIX", "", "realtime.E012"),
    ],
)
def test_unusable_token_cache_settings_fail_the_checks(settings, name, value, check_id):
    setattr(settings, name, value)
    assert check_id in {m.id for m in run_checks()}


def test_the_token_cache_may_be_turned_off(settings):
    settings.NOTES_TOKEN_CACHE_SECONDS = None
    assert not {m.id for m in run_checks()} & {"realtime.E010", "realtime.E011"}
    assert tokencache.current() is None
