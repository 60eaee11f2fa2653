"""The patches of daphne, Twisted and autobahn: on only where checked, and what they rely on holds.

The end-to-end tests prove each patch's effect through a real daphne (close
codes in test_ws_protocol.py, the output cap and keepalive in
test_hostile_peers.py, the direct write and the released upgrade in
test_daphne_connection.py, the shutdown order in test_shutdown.py). Here:
the version decision, and the Twisted behaviour the direct write and the
output cap read from private state.
"""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DJANGO_DEBUG": "1",
            "PATH": "/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_every_patch_is_on_for_the_installed_releases():
    result = run(
        "import django; django.setup(); from realtime import patches;"
        "import json; print(json.dumps(patches.install_all()))"
    )
    decided = json.loads(result.stdout.splitlines()[-1])
    assert decided and all(decided.values()), result.stderr


def test_on_an_unchecked_release_every_patch_stays_off_and_says_so():
    result = run(
        "import django; django.setup();"
        "from daphne.server import Server; from daphne.ws_protocol import WebSocketProtocol;"
        "before = (WebSocketProtocol.__dict__.copy(), Server.kill_all_applications);"
        "from realtime import patches, metrics;"
        "decided = patches.install_all(version_of=lambda name: '0.1');"
        "after = (WebSocketProtocol.__dict__.copy(), Server.kill_all_applications);"
        "from prometheus_client import generate_latest;"
        "print(not any(decided.values()), before == after);"
        "print(generate_latest().decode())"
    )
    first, *metrics = result.stdout.splitlines()
    assert first == "True True", result.stderr  # nothing decided on, nothing changed
    assert 'realtime_patch_active{patch="close_codes"} 0.0' in metrics
    assert 'realtime_patch_active{patch="direct_write"} 0.0' in metrics
    assert "patch_skipped patch=close_codes reason=daphne 0.1 is not >=4.2.2,<4.3" in (
        result.stderr
    )


def test_a_direct_write_never_overtakes_bytes_twisted_has_queued():
    """direct_write sends at once only when Twisted's buffer is empty, and the output cap
    counts what is queued; both read Twisted's private buffer state. If a release kept the
    names but changed what they mean, frames would go out of order or the cap would lie."""
    result = subprocess.run(
        [sys.executable, "-m", "tests.realtime.twisted_transport_probe"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    report = json.loads(result.stdout)
    assert report["idle_before"] == 0
    assert report["queued_after_write"] > 0
    assert report["queued_after_partial_send"] > 0
    assert report["in_order"] is True
    assert report["drained"] == 0
