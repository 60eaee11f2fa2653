"""The Content-Security-Policy of our HTML pages.

Scripts and styles come from this site only, so even a note that slipped past
escaping could not run code: the pages have no inline script or style to
allow. The page's translated words travel in a ``<script type="application/json">``
block, which is data, not code, and CSP does not block it. ``connect-src``
names the site's own socket origin (``wss://`` + the page's host) besides
``'self'``, which did not cover WebSocket URLs in every browser before CSP
level 3; ``ws: wss:`` allowed sockets to any host (issue 18).
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse
from django.utils.deprecation import MiddlewareMixin

DIRECTIVES = (
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src {connect}",
    "frame-ancestors 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "object-src 'none'",
)


def content_security_policy(request: HttpRequest) -> str:
    """The policy for a page of ``request``: its own socket origin is the only one allowed."""
    connect = "'self'"
    try:
        scheme = "wss" if request.is_secure() else "ws"
        connect = f"'self' {scheme}://{request.get_host()}"
    except DisallowedHost:
        pass  # answered 400 anyway: no socket to allow
    return "; ".join(DIRECTIVES).format(connect=connect)


# With DEBUG on, Django answers these with its technical pages, which carry
# inline styles and scripts; they are never shown with DEBUG off.
DEBUG_PAGE_STATUSES = frozenset({404, 500})


class ContentSecurityPolicyMiddleware(MiddlewareMixin):
    """Adds the policy to every HTML response that does not set its own.

    Sync-only on purpose, and last in ``MIDDLEWARE``: under ASGI, Django then
    runs the whole middleware chain in one worker thread (it adapts once at
    the top), where with every middleware async-capable it made two trips
    between the event loop and that thread per middleware, about fifteen per
    request, each queued behind whatever the loop was doing. With 2,000
    sockets receiving a fan-out, ``POST /api/news/`` p50 went from 27 ms to
    12-15 ms (workload D of docs/performance.md).
    """

    async_capable = False

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if not response.get("Content-Type", "").startswith("text/html"):
            return response
        if settings.DEBUG and response.status_code in DEBUG_PAGE_STATUSES:
            return response
        if "Content-Security-Policy" not in response.headers:
            response.headers["Content-Security-Policy"] = content_security_policy(request)
        return response
