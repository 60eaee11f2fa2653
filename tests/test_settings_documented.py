"""Every setting of ours has its default written in docs/integrate.md, and nothing else is there."""

import re
from pathlib import Path

from note import conf as note_conf
from realtime import conf as realtime_conf

DOC = Path(__file__).resolve().parents[1] / "docs" / "integrate.md"


def documented() -> dict[str, str]:
    """setting name -> the default column, from the table's rows that name NOTES_ settings."""
    rows = {}
    for line in DOC.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`NOTES_"):
            continue
        names = re.findall(r"`(NOTES_\w+)`", cells[0])
        defaults = re.findall(r"`([^`]+)`", cells[1])
        assert len(names) == len(defaults), line
        rows.update(zip(names, defaults, strict=True))
    return rows


def test_every_setting_is_documented_with_its_default():
    defaults = {**note_conf.DEFAULTS, **realtime_conf.DEFAULTS}
    rows = documented()
    assert set(rows) == set(defaults)
    for name, default in defaults.items():
        assert rows[name] == repr(default).replace("'", '"'), name
