"""The suite's settings: the standalone server's (``config.settings``), in development.

The server's settings are production's unless the environment says
development (issue 18), and this is the suite saying it. Processes the tests
start inherit both: ``DJANGO_DEBUG=1`` and ``config.settings`` itself.
"""

import os

os.environ.setdefault("DJANGO_DEBUG", "1")

from config.settings import *  # noqa: F403

# This process has read its settings module's name already; children read it
# from here, and must get the server's own, as a deployment would.
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
