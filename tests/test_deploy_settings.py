"""docs/deploy.md's production environment passes ``manage.py check --deploy``.

The file is read from the page itself, so the page and the check cannot drift.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def documented_environment() -> dict[str, str]:
    page = (ROOT / "docs" / "deploy.md").read_text()
    block = re.search(r"```sh\n# /etc/notes/env\n(.*?)```", page, re.S)
    assert block, "docs/deploy.md lost its /etc/notes/env block"
    return dict(line.split("=", 1) for line in block.group(1).splitlines() if line)


def check_deploy(env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "REDIS_"))}
    clean.pop("DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_deploy_is_clean_for_the_documented_production_environment():
    env = documented_environment()
    assert "DJANGO_DEBUG" not in env  # production needs nobody to remember it
    # The check connects to nothing; SQLite spares it the PostgreSQL driver's pool.
    env["DATABASE_URL"] = "sqlite:///deploy-check.sqlite3"
    env["DJANGO_SECRET_KEY"] = "k" * 20 + "A-long-random-value-of-fifty-chars!"
    result = check_deploy(env)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_warns_when_https_is_left_out():
    env = documented_environment()
    env["DATABASE_URL"] = "sqlite:///deploy-check.sqlite3"
    env["DJANGO_SECRET_KEY"] = "k" * 20 + "A-long-random-value-of-fifty-chars!"
    del env["DJANGO_HSTS_SECONDS"]
    result = check_deploy(env)
    assert result.returncode != 0
    assert "security.W004" in result.stderr
