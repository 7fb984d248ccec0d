"""Views for machines and for when things break: liveness, robots.txt, the error page."""

from __future__ import annotations

import logging

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string

log = logging.getLogger(__name__)

# Private pages (signed links) and machinery stay out of search engines.
DISALLOWED = ("/u/", "/f/", "/confirm/", "/email/", "/admin/", "/anymail/",
              "/login/", "/vote/", "/me/", "/comments/", "/submit/")


def robots(request):
    lines = ["User-agent: *", *(f"Disallow: {path}" for path in DISALLOWED),
             f"Sitemap: {settings.SITE_URL}/sitemap.xml"]
    return HttpResponse("\n".join(lines) + "\n", content_type="text/plain")


def server_error(request):
    # No template logic, no database: it must render when everything else is broken.
    return HttpResponse(render_to_string("500.html"), status=500)


def healthz(request):
    """Liveness: the database answers and, when one is configured, the broker too."""
    checks = {}
    status = 200
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:
        log.error("healthz: database: %s", exc)
        checks["database"] = "error"
        status = 503
    if settings.REDIS_URL:
        try:
            redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2).ping()
            checks["broker"] = "ok"
        except Exception as exc:
            log.error("healthz: broker: %s", exc)
            checks["broker"] = "error"
            status = 503
    else:
        checks["broker"] = "in-process"
    return JsonResponse({"status": "ok" if status == 200 else "error", **checks}, status=status)
