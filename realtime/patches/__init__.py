"""Every change we make below the ASGI line (daphne, Twisted, autobahn), in one place.

Each module here is one patch. It says what it changes and why, names the
upstream issue it works around, and declares ``CHECKED``: the releases of the
libraries it reads or changes that it was written and tested against.
:func:`install_all` (called by ``realtime.asgi.notes_application``) turns on
each patch whose libraries are at such a release; on any other release that
patch stays off and the server keeps the libraries' public behaviour (for
instance 1011 where we would send 1008, or every frame through the ASGI send).
Either way a start-up log line says so, and ``/metrics`` shows it:
``realtime_patch_active{patch="..."}`` is 1 or 0.

``tests/realtime/test_patches.py`` checks the decision and, for each patch,
the behaviour of the library that the patch relies on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from importlib import metadata
from types import ModuleType

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from realtime import metrics
from realtime.logs import log_event
from realtime.patches import (
    close_codes,
    direct_write,
    frame_limits,
    keepalive,
    output_cap,
    release_upgrade,
    shutdown_order,
)

log = logging.getLogger(__name__)

PATCHES: tuple[ModuleType, ...] = (
    close_codes,
    frame_limits,
    keepalive,
    output_cap,
    direct_write,
    release_upgrade,
    shutdown_order,
)

_decided: dict[str, bool] = {}


def install_all(version_of: Callable[[str], str] = metadata.version) -> dict[str, bool]:
    """Install every patch that fits the installed releases; once per process.

    ``version_of`` (a distribution name to its version) is for tests.
    """
    if _decided:
        return dict(_decided)
    for patch in PATCHES:
        name = patch.__name__.rsplit(".", 1)[-1]
        mismatch = _mismatch(patch.CHECKED, version_of)
        if mismatch is None:
            patch.install()
        _decided[name] = mismatch is None
        metrics.patch_active.labels(name).set(1 if mismatch is None else 0)
        if mismatch is None:
            log_event(log, "patch_installed", patch=name)
        else:
            log_event(log, "patch_skipped", logging.WARNING, patch=name, reason=mismatch)
    return dict(_decided)


def _mismatch(checked: dict[str, str], version_of: Callable[[str], str]) -> str | None:
    """Why the installed releases do not fit ``checked``, or None when they do."""
    for distribution, specifier in checked.items():
        try:
            installed = version_of(distribution)
            fits = Version(installed) in SpecifierSet(specifier)
        except (metadata.PackageNotFoundError, InvalidVersion):
            return f"{distribution} not installed or unreadable"
        if not fits:
            return f"{distribution} {installed} is not {specifier}"
    return None
