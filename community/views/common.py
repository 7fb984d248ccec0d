"""Helpers the community views share: rate limits and safe redirects."""

from __future__ import annotations

import logging

from django.conf import settings
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme

from paperpost.ratelimit import allow, client_ip, parse_rate

log = logging.getLogger(__name__)


def over_limit(request, scope: str, person: str | None, per_person: str | None, per_ip: str):
    """A 429 page if the person or the IP went over its limit, else None. Each call counts."""
    checks = [(f"{scope}-ip", client_ip(request), per_ip)]
    if person and per_person:
        checks.append((f"{scope}-person", person, per_person))
    for name, ident, rate in checks:
        limit, window = parse_rate(getattr(settings, rate))
        if not allow(name, ident, limit, window):
            log.warning("%s: rate limit (%s)", name, rate)
            response = render(request, "subscribers/too_many.html", {"minutes": max(1, -(-window // 60))},
                              status=429)
            response["Retry-After"] = str(window)
            return response
    return None


def safe_next(request, value: str | None, default: str) -> str:
    if value and url_has_allowed_host_and_scheme(value, allowed_hosts={request.get_host()},
                                                 require_https=request.is_secure()):
        return value
    return default
