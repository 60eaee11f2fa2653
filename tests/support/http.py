"""Plain HTTP against a running server: JSON API calls and a browser-like session login."""

from __future__ import annotations

import http.cookiejar
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from typing import Any


def call(
    url: str,
    *,
    method: str = "GET",
    body: Any = None,
    token: str | None = None,
    headers: dict[str, str] | None = None,
    opener=None,
    timeout: float = 10,
):
    """(status, parsed JSON or text) for one request; HTTP errors are returned, not raised."""
    data = None
    all_headers = dict(headers or {})
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        all_headers.setdefault("Content-Type", "application/json")
    if token is not None:
        all_headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, headers=all_headers, method=method)
    open_ = opener.open if opener is not None else urllib.request.urlopen
    try:
        with open_(request, timeout=timeout) as response:
            status, raw, ctype = (
                response.status,
                response.read(),
                response.headers.get("Content-Type", ""),
            )
    except urllib.error.HTTPError as exc:
        status, raw, ctype = exc.code, exc.read(), exc.headers.get("Content-Type", "")
    if ctype.startswith("application/json"):
        return status, json.loads(raw)
    return status, raw.decode(errors="replace")


def post_news(server, token: str, title: str, content: str = "body") -> dict:
    status, body = call(
        f"{server.http_url}/api/news/",
        method="POST",
        body={"title": title, "content": content},
        token=token,
    )
    assert status == 201, (status, body)
    return body


class BrowserSession:
    """Cookies and CSRF like a browser: log in through the real login form."""

    def __init__(self, server) -> None:
        self.server = server
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def cookie(self, name: str) -> str | None:
        return next((c.value for c in self.jar if c.name == name), None)

    def cookie_header(self) -> str:
        return "; ".join(f"{c.name}={c.value}" for c in self.jar)

    def login(self, username: str, password: str) -> None:
        page = self.opener.open(f"{self.server.http_url}/accounts/login/", timeout=10).read()
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1).decode()
        form = urllib.parse.urlencode(
            {"username": username, "password": password, "csrfmiddlewaretoken": token}
        ).encode()
        request = urllib.request.Request(
            f"{self.server.http_url}/accounts/login/",
            data=form,
            headers={"Referer": f"{self.server.http_url}/accounts/login/"},
        )
        self.opener.open(request, timeout=10).read()
        assert self.cookie("sessionid"), "login failed"

    def post(self, path: str, form: dict[str, str]) -> int:
        data = urllib.parse.urlencode(
            {**form, "csrfmiddlewaretoken": self.cookie("csrftoken") or ""}
        ).encode()
        request = urllib.request.Request(
            f"{self.server.http_url}{path}",
            data=data,
            headers={"Referer": f"{self.server.http_url}/"},
        )
        try:
            with self.opener.open(request, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    def logout(self) -> int:
        return self.post("/accounts/logout/", {})
