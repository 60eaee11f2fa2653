"""JSON API plumbing shared by ``news.api`` and ``note.api``: who is calling, and bodies.

A call is authenticated by ``Authorization: Bearer <token>`` (no CSRF: the
browser never attaches it by itself) or by the session cookie, which then
needs a CSRF token on unsafe methods exactly as Django's middleware demands.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.views.decorators.csrf import csrf_exempt

from note.limits import Limited, check, too_many_requests
from note.tokens import bearer_token, token_authenticate

MAX_BODY_BYTES = 256 * 1024


class BadRequest(Exception):
    """Raised by parsing helpers; answered as 400 with a JSON body."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


def error(status: int, message: str, **details: Any) -> JsonResponse:
    return JsonResponse({"error": message, **details}, status=status)


def api_view(
    *, methods: tuple[str, ...], login_required: bool = True, limit: str | None = None
) -> Callable:
    """Decorate a JSON view: method check, token or session auth, CSRF for sessions,
    the per-user ``limit`` (``note.limits``, e.g. ``"PUBLISH_PER_USER"``) answered
    with 429, and bad input (``BadRequest``) turned into a 400 JSON answer."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @csrf_exempt  # checked below, for session calls only
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method not in methods:
                response = error(405, f"method {request.method} not allowed")
                response["Allow"] = ", ".join(methods)
                return response
            token = bearer_token(request.headers.get("Authorization"))
            request.api_token = None  # the ApiToken of a token call (tickets are made under it)
            if token is not None:
                request.api_token = token_authenticate(token) if token else None
                if request.api_token is None:
                    return error(401, "invalid or expired token")
                request.user = request.api_token.user
            elif request.user.is_authenticated and request.method not in ("GET", "HEAD"):
                refusal = CsrfViewMiddleware(lambda r: None).process_view(request, None, (), {})
                if refusal is not None:
                    return error(403, "CSRF check failed: send the X-CSRFToken header")
            if login_required and not request.user.is_authenticated:
                return error(401, "authentication required: log in or send a Bearer token")
            if limit is not None and request.user.is_authenticated:
                try:
                    check(limit, request.user.pk)
                except Limited as exc:
                    return too_many_requests(exc)
            try:
                return view(request, *args, **kwargs)
            except BadRequest as exc:
                return error(400, exc.message, **exc.details)

        return wrapper

    return decorate


def json_body(request: HttpRequest) -> dict[str, Any]:
    """The request body as a JSON object, or ``BadRequest``."""
    if len(request.body) > MAX_BODY_BYTES:
        raise BadRequest("request body too large")
    try:
        data = json.loads(request.body or b"null")
    except (ValueError, RecursionError):
        raise BadRequest("body is not valid JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("body must be a JSON object")
    return data


def query_int(
    request: HttpRequest,
    name: str,
    *,
    default: int | None = None,
    minimum: int = 0,
    maximum: int = 2**63 - 1,
) -> int | None:
    raw = request.GET.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isascii() or not raw.isdigit() or len(raw) > 19:
        raise BadRequest(f"'{name}' must be a non-negative integer")
    value = int(raw)
    if not minimum <= value <= maximum:
        raise BadRequest(f"'{name}' must be between {minimum} and {maximum}")
    return value
