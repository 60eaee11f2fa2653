"""A socket re-checks its credential at connect only when the hub may have missed it."""

import asyncio

import pytest

from note.credentials import Credential
from realtime.credentials import handshake_started, must_recheck
from realtime.hub import Hub

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def test_a_handshake_that_began_before_the_hub_rechecked_its_user_checks_again():
    hub = Hub(asyncio.get_running_loop())
    credential = Credential(user_key="7", token_id=1)
    early = handshake_started({})
    await asyncio.sleep(0.01)
    async with hub._lock:
        await hub._recheck_user("7")  # the socket was not registered yet: not seen
    await asyncio.sleep(0.01)
    late = handshake_started({})

    assert must_recheck(early, hub, credential)
    assert not must_recheck(late, hub, credential)
    assert not must_recheck(early, hub, Credential(user_key="8", token_id=2))


async def test_a_socket_with_no_handshake_time_or_no_credential():
    hub = Hub(asyncio.get_running_loop())
    assert must_recheck({}, hub, Credential(user_key="7", token_id=1))
    assert not must_recheck(handshake_started({}), hub, None)
