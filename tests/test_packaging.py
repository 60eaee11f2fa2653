"""The wheel a host installs: our three apps and the client package, complete, and nothing else.

Built with pip from a clean copy of the checkout (tests/support/checkout.py),
as ``pip install <path>`` builds it.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import zipfile
from email.parser import Parser
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.support.checkout import export_checkout

ROOT = Path(__file__).resolve().parents[1]
APPS = ("note", "realtime", "frontend", "notes_client")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    checkout = export_checkout(tmp_path_factory.mktemp("checkout"))
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(checkout), "-w", str(out)],
        check=True,
        timeout=300,
    )
    [built] = out.glob("django_realtime_notes-*.whl")
    return zipfile.ZipFile(built)


def test_the_wheel_carries_templates_static_files_translations_and_migrations(wheel):
    names = set(wheel.namelist())
    for expected in (
        "note/migrations/0001_initial.py",
        "realtime/migrations/0002_apitoken_moved_to_note.py",
        "note/management/commands/issue_token.py",
        "frontend/templates/notes/bell.html",
        "frontend/templates/notes/toasts.html",
        "frontend/templatetags/notes.py",
        "frontend/static/frontend/notes.js",
        "frontend/static/frontend/notes.css",
        "frontend/static/frontend/protocol.js",
        "frontend/locale/zh_Hans/LC_MESSAGES/django.mo",
        "realtime/patches/close_codes.py",
        "notes_client/protocol.py",
    ):
        assert expected in names, expected
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)


def test_the_wheel_has_nothing_a_host_does_not_need(wheel):
    tops = {name.split("/", 1)[0] for name in wheel.namelist()}
    assert {t for t in tops if not t.endswith(".dist-info")} == set(APPS)


def test_every_library_the_installed_code_imports_is_declared_with_bounds(wheel):
    [meta] = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    requires = Parser().parsestr(wheel.read(meta).decode()).get_all("Requires-Dist")
    declared = {
        Requirement(r).name.lower().replace("_", "-"): Requirement(r)
        for r in requires
        if "extra ==" not in r
    }
    distributions = metadata.packages_distributions()
    imported: set[str] = set()
    for name in wheel.namelist():
        if name.endswith(".py"):
            for node in ast.walk(ast.parse(wheel.read(name))):
                if isinstance(node, ast.Import):
                    imported.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    imported.add(node.module.split(".")[0])
    third_party = imported - set(APPS) - set(sys.stdlib_module_names) - {"__future__"}
    for module in sorted(third_party):
        owners = {d.lower().replace("_", "-") for d in distributions.get(module, [])}
        assert owners & set(declared), f"{module} is imported but no distribution of it is declared"
    # The libraries whose internals realtime/patches and the consumer touch have an upper bound.
    for name in ("daphne", "twisted", "autobahn", "channels", "django"):
        assert any(spec.operator == "<" for spec in declared[name].specifier), name


def test_the_bench_needs_only_its_own_extras():
    """``make bench`` installs ``.[bench]``, not the test tools: importing the
    bench with pytest unavailable must work (it reuses tests/support helpers)."""
    blocker = (
        "import sys\n"
        "class NoPytest:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'pytest' or name.startswith(('pytest.', '_pytest')):\n"
        "            raise ImportError('pytest is not part of the bench extras')\n"
        "sys.meta_path.insert(0, NoPytest())\n"
        "import bench.run, bench.hostile, bench.multiprocess\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", blocker], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
