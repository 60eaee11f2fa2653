"""On SIGTERM, our runtime stops before daphne cancels anything, in an order our code spells out.

daphne stops by cancelling every application coroutine and dropping the TCP
connections, so clients saw 1006 and could not tell a deploy from a crash
(django/daphne#177). Twisted runs the "before shutdown" triggers one after
another without waiting between them, so a trigger of ours registered first
only happened to act before daphne's. Instead, daphne's own
``Server.kill_all_applications`` is wrapped: it first stops listening (a
client reconnecting during the drain is refused at once and goes to another
process), then awaits ``Runtime.stop`` (sockets closed with 1001, queued
layer events sent), and only then lets daphne cancel what is left.
"""

from __future__ import annotations

import asyncio

from realtime.patches.versions import DAPHNE, TWISTED

CHECKED = {"daphne": DAPHNE, "twisted": TWISTED}


def install() -> None:
    from daphne.server import Server
    from twisted.internet import defer

    original = Server.kill_all_applications

    def kill_all_applications(self):
        stopping = defer.Deferred.fromFuture(asyncio.ensure_future(_stop_first()))
        stopping.addErrback(lambda failure: None)  # daphne must stop whatever happened
        stopping.addCallback(lambda _: original(self))
        return stopping

    Server.kill_all_applications = kill_all_applications


async def _stop_first() -> None:
    from twisted.internet import reactor, tcp

    from realtime.runtime import running_runtime

    # Twisted's public IReactorFDSet: the listening ports among the readers.
    for reader in list(reactor.getReaders()):
        if isinstance(reader, tcp.Port):
            await _deferred(reader.stopListening())
    runtime = running_runtime()
    if runtime is not None:
        await runtime.stop()


async def _deferred(result) -> None:
    from twisted.internet import defer

    if isinstance(result, defer.Deferred):
        await result.asFuture(asyncio.get_running_loop())
