"""``make run`` is the first command a newcomer types: it must serve the site."""

from __future__ import annotations

import urllib.request

from tests.support.http import call
from tests.support.make_run import make_run


def test_make_run_serves_the_page_and_healthz_and_prints_the_demo_logins(tmp_path):
    with make_run(tmp_path) as site:
        status, page = call(f"{site.http_url}/")
        assert status == 200 and "<html" in page.lower()
        status, health = call(f"{site.http_url}/healthz")
        assert (status, health) == (200, {"database": "ok", "channel_layer": "ok"})
        with urllib.request.urlopen(f"{site.http_url}/static/frontend/notes.css") as css:
            assert css.status == 200
        printed = site.output()
        for login in ("alice / alice-demo-1", "bob / bob-demo-1", "carol / carol-demo-1"):
            assert login in printed
