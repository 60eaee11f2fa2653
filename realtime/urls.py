"""``include("realtime.urls")`` under any prefix: the JSON API, the health check and metrics.

Names are in the ``notes`` namespace: ``notes:list``, ``notes:read``,
``notes:healthz``, ``notes:metrics``.
"""

from django.urls import include, path

from realtime.health import healthz
from realtime.metrics import metrics_view

app_name = "notes"

urlpatterns = [
    path("api/", include("note.urls")),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics_view, name="metrics"),
]
