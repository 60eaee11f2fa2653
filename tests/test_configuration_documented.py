"""Every environment variable config/settings.py reads is in the README's configuration table.

An operator learns the knobs from that table; a knob missing from it
(``DJANGO_SECURE_COOKIES`` was, issue 18) is one nobody turns on purpose.
"""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
READS = re.compile(
    r"""(?:_env_\w+|environ\.get|_sentinels)\(\s*["']([A-Z][A-Z0-9_]+)["']|environ\[["']([A-Z][A-Z0-9_]+)["']\]"""
)


def variables_read() -> set[str]:
    text = (ROOT / "config" / "settings.py").read_text()
    return {a or b for a, b in READS.findall(text)}


def variables_documented() -> set[str]:
    section = (ROOT / "README.md").read_text().split("\n## Configuration\n", 1)[1]
    section = section.split("\n## ", 1)[0]
    names = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            first_cell = line.split("|")[1]
            names.update(re.findall(r"`([A-Z][A-Z0-9_]+)`", first_cell))
    return names


def test_every_environment_variable_the_settings_read_is_in_the_readme_table():
    read = variables_read()
    assert {"DJANGO_DEBUG", "DJANGO_SECURE_COOKIES", "TRUSTED_PROXIES"} <= read  # the regex works
    assert read - variables_documented() == set()


def test_the_readme_table_names_no_variable_the_settings_do_not_read():
    assert variables_documented() - variables_read() == set()
