"""The client's address: the peer's, unless the peer is a proxy we were told to trust.

``X-Forwarded-For`` is written by whoever sends the request, so it is read
only when the peer is in ``NOTES_TRUSTED_PROXIES`` (addresses or networks);
then the address is the right-most one in the header that is not itself a
trusted proxy (each proxy appends the address it saw). A client that reaches
the server directly cannot pose as another address: with ``--proxy-headers``
daphne believed the header from anyone, which turned ``/metrics`` from 403 to
200 (issue 18).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

from django.http import HttpRequest

from note import conf

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def trusted_networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    """``NOTES_TRUSTED_PROXIES`` as networks; ``ValueError`` for a bad entry (note.checks)."""
    return tuple(ipaddress.ip_network(proxy.strip(), strict=False) for proxy in proxies)


def _trusted(address: str, networks: Iterable[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(peer: str | None, forwarded_for: str | None) -> str | None:
    """The address of the client behind ``peer``, given its ``X-Forwarded-For`` (or None)."""
    networks = trusted_networks(tuple(conf.TRUSTED_PROXIES or ()))
    if peer is None or not networks or not forwarded_for or not _trusted(peer, networks):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, networks):
            return hop
    return hops[0] if hops else peer


def scope_is_from_trusted_proxy(scope: dict) -> bool:
    """True when the handshake's peer is one of ``NOTES_TRUSTED_PROXIES``."""
    client = scope.get("client")
    networks = trusted_networks(tuple(conf.TRUSTED_PROXIES or ()))
    return bool(client and networks and _trusted(client[0], networks))


def request_address(request: HttpRequest) -> str | None:
    return client_address(request.META.get("REMOTE_ADDR"), request.META.get("HTTP_X_FORWARDED_FOR"))


def scope_address(scope: dict) -> str | None:
    """The same for an ASGI scope (a WebSocket handshake)."""
    client = scope.get("client")
    peer = client[0] if client else None
    forwarded = None
    for name, value in scope.get("headers", ()):
        if name == b"x-forwarded-for":
            forwarded = (
                value.decode("latin-1")
                if forwarded is None
                else (f"{forwarded},{value.decode('latin-1')}")
            )
    return client_address(peer, forwarded)
