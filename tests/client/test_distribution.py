"""``pip install ./clients/python`` into a fresh virtualenv: the client alone, without Django.

The contract's promise for the client's own distribution, kept the way a user
keeps it: a new venv, a plain (not editable) install from a copy of
``clients/python`` (so nothing can come from the checkout, and the build
leaves no files in it), then that venv's ``notes-listen`` against a real
daphne process.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from note.models import Note
from note.signals import notify
from tests.client.listener import ROOT, Listener
from tests.support.data import make_user, make_user_with_token
from tests.support.services import missing

pytestmark = pytest.mark.timeout(300)

# What pip prints when it cannot reach a package index at all (not a packaging mistake).
NO_INDEX = (
    "Failed to establish a new connection",
    "Temporary failure in name resolution",
    "Network is unreachable",
    "ProxyError",
)


def _isolated_env() -> dict[str, str]:
    """This process's environment without what would let the venv see the project's."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return {**env, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


@pytest.fixture(scope="module")
def client_venv(tmp_path_factory) -> Path:
    """A new venv with ``notes-client`` installed from a copy of ``clients/python``."""
    root = tmp_path_factory.mktemp("notes-client")
    source = root / "source"
    shutil.copytree(
        ROOT / "clients" / "python",
        source,
        ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"),
    )
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    install = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(source)],
        cwd=root,
        env=_isolated_env(),
        capture_output=True,
        text=True,
        timeout=240,
    )
    output = install.stdout + install.stderr
    if install.returncode != 0:
        if any(marker in output for marker in NO_INDEX):
            missing(f"pip cannot reach a package index to install websockets:\n{output}")
        pytest.fail(f"pip install ./clients/python failed:\n{output}")
    return venv


def run_python(venv: Path, code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(venv / "bin" / "python"), "-c", code],
        cwd=venv.parent,
        env=_isolated_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_installed_client_imports_without_django(client_venv):
    found = run_python(
        client_venv, "import notes_client; print(notes_client.__file__, notes_client.__version__)"
    )
    assert found.returncode == 0, found.stderr
    path, version = found.stdout.split()
    assert Path(path).is_relative_to(client_venv / "lib"), "not the installed copy"
    assert version == "0.1.0"

    django = run_python(client_venv, "import django")
    assert django.returncode != 0
    assert "No module named 'django'" in django.stderr


def test_its_notes_listen_prints_a_note_from_a_real_server_as_one_json_line(client_venv, server):
    listener, token = make_user_with_token("venv")
    client = Listener(
        "--url",
        server.ws_url,
        token=token,
        command=(str(client_venv / "bin" / "notes-listen"),),
        cwd=client_venv.parent,
    )
    try:
        client.wait_for_stderr("up to date")
        notify.send(
            sender=Note,
            actor=make_user("sender"),
            title="Hello from the test",
            content="sent while the venv's client listens",
            url="/somewhere/",
            kind="test.distribution",
            recipients=[listener],
        )
        client.wait_for(lambda: len(client.out) >= 1, what="the note")
    finally:
        code = client.interrupt()

    assert len(client.out) == 1, client.report()
    note = json.loads(client.out[0])
    assert note["title"] == "Hello from the test"
    assert note["kind"] == "test.distribution"
    assert note["public"] is False
    assert note["id"] == Note.objects.get(kind="test.distribution", recipient=listener).id
    assert code == 130
    assert not any("Traceback" in line for line in client.err), client.report()
