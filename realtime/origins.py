"""Which pages may open a socket: the ``Origin`` of a handshake, compared whole.

An origin is scheme, host and port. Channels' ``AllowedHostsOriginValidator``
compares the host alone, so ``chrome-extension://localhost`` and
``http://localhost:9999`` passed for a site at ``http://localhost:8000``
(issue 18). Allowed here:

- the site's own origin: the handshake's ``Host`` (one of ``ALLOWED_HOSTS``)
  with the scheme the browser used (``https`` when the socket is ``wss``, or
  when a trusted proxy says ``X-Forwarded-Proto: https``);
- the origins in ``NOTES_ALLOWED_ORIGINS``, by default Django's own
  ``CSRF_TRUSTED_ORIGINS`` (pages trusted to post with the session may
  listen with it too); ``https://*.example.com`` allows subdomains, as there.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.http.request import split_domain_port, validate_host

from note.inbox import scope_is_from_trusted_proxy
from realtime import conf, metrics
from realtime.logs import log_event

log = logging.getLogger(__name__)


def _headers(scope) -> dict[bytes, str]:
    return {name: value.decode("latin-1") for name, value in scope.get("headers", ())}


def own_origin(scope) -> str | None:
    """``scheme://host[:port]`` of the page that belongs to this server, or None (bad Host)."""
    headers = _headers(scope)
    host = headers.get(b"host", "").strip().lower()
    domain, _port = split_domain_port(host)
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]  # what Django allows then
    if not domain or not validate_host(domain, allowed):
        return None
    secure = scope.get("scheme") in ("wss", "https")
    forwarded = headers.get(b"x-forwarded-proto", "").split(",")[0].strip().lower()
    if forwarded and scope_is_from_trusted_proxy(scope):
        secure = forwarded in ("https", "wss")
    return f"{'https' if secure else 'http'}://{host}"


def _matches(origin: str, pattern: str) -> bool:
    pattern = pattern.strip().lower().rstrip("/")
    if "://*." not in pattern:
        return origin == pattern
    scheme, _, suffix = pattern.partition("://*")
    return origin.startswith(f"{scheme}://") and origin.endswith(suffix)


def origin_allowed(scope, origin: str) -> bool:
    origin = origin.strip().lower().rstrip("/")
    if origin == own_origin(scope):
        return True
    trusted = conf.ALLOWED_ORIGINS
    if trusted is None:
        trusted = settings.CSRF_TRUSTED_ORIGINS
    return any(_matches(origin, pattern) for pattern in trusted)


class OriginCheck:
    """ASGI middleware: a handshake whose ``Origin`` is not allowed is refused (HTTP 403).

    Only handshakes that carry an ``Origin`` reach it (``realtime.gate`` has
    the rule for those without).
    """

    def __init__(self, inner) -> None:
        self.inner = inner

    async def __call__(self, scope, receive, send):
        from channels.security.websocket import WebsocketDenier

        origin = _headers(scope).get(b"origin")
        if origin is None or origin_allowed(scope, origin):
            return await self.inner(scope, receive, send)
        metrics.clients_cut_off.labels("bad_origin").inc()
        log_event(log, "ws_auth_failed", reason="bad_origin", path=scope.get("path"))
        return await WebsocketDenier()(scope, receive, send)
