"""Static files for the standalone server, where no web server stands in front (``make run``).

Django's ``ASGIStaticFilesHandler`` answers 404 only for a file it looked for
and did not find. A path that leaves the static folders (``/static/../``)
raised ``SuspiciousFileOperation`` (and a NUL byte ``ValueError``) past it:
daphne answered 500 with a traceback in the log (issue 19). Such a path names
no static file, so it is answered 404 like any other.
"""

from __future__ import annotations

from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.exceptions import SuspiciousFileOperation
from django.http import Http404, HttpRequest, HttpResponse


class StaticFilesHandler(ASGIStaticFilesHandler):
    def serve(self, request: HttpRequest) -> HttpResponse:
        """Called on a worker thread for each request under ``STATIC_URL``."""
        try:
            return super().serve(request)
        except (SuspiciousFileOperation, ValueError):
            raise Http404("no such static file") from None
