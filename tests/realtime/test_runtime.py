"""The runtime: started by the first use or by ASGI lifespan, stopped in order."""

import asyncio

import pytest
from asgiref.testing import ApplicationCommunicator

from realtime.runtime import Runtime, running_runtime

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def test_lifespan_starts_the_runtime_and_stops_it():
    from asgi import application

    lifespan = ApplicationCommunicator(application, {"type": "lifespan"})
    await lifespan.send_input({"type": "lifespan.startup"})
    assert await lifespan.receive_output(5) == {"type": "lifespan.startup.complete"}
    runtime = running_runtime()
    assert runtime is not None and runtime.accepting
    await asyncio.wait_for(runtime.hub._subscribed.wait(), 5)  # listening to the layer
    await lifespan.send_input({"type": "lifespan.shutdown"})
    assert await lifespan.receive_output(5) == {"type": "lifespan.shutdown.complete"}
    assert running_runtime() is None
    assert not runtime.accepting and runtime.hub._tasks == []


async def test_a_runtime_used_as_a_context_manager_stops_accepting_at_exit():
    async with Runtime() as runtime:
        # listening to the layer, handling what it heard, the periodic catch-up,
        # the sweep of notes left pending, the presence of its users
        names = {task.get_name() for task in runtime.hub._tasks}
        assert runtime.accepting and names == {
            "hub-listen",
            "hub-handle",
            "hub-watch",
            "hub-sweep",
            "hub-presence",
        }
    assert not runtime.accepting and runtime.hub._tasks == []
