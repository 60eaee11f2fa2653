"""The standalone server: ``daphne asgi:application`` serves pages, API, static files and sockets.

It is a host like any other (``docs/integrate.md``): Django's application,
wrapped by ``realtime.asgi.notes_application``. Only the static files are
ours to serve here, since ``make run`` has no web server in front.
"""

import gc
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from django.core.asgi import get_asgi_application

# Django first: it sets up apps before anything imports models.
django_application = get_asgi_application()

from config.static import StaticFilesHandler  # noqa: E402
from realtime.asgi import notes_application  # noqa: E402

application = notes_application(StaticFilesHandler(django_application))

# What start-up made (modules, classes, settings, the URL resolver) lives as
# long as the process. Frozen, it is left out of every full garbage
# collection, whose pause grows with each object it walks (docs/performance.md,
# "Garbage collection"). No socket exists yet, so none of its objects, which
# do become garbage, are frozen.
gc.collect()
gc.freeze()

__all__ = ["application"]
