"""Helpers the community views share: the paper a URL names, rate limits, safe redirects."""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import Http404
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme

from digest.models import Paper
from paperpost.ratelimit import allow, client_ip, parse_rate

log = logging.getLogger(__name__)


def published_paper(identifier: str) -> Paper:
    """The paper an identifier names (as /paper/<identifier>/ does), if a published batch holds it."""
    identifier = identifier.strip("/")
    found = Paper.objects.filter(arxiv_id=identifier).first()
    if found is None and identifier.startswith("title:"):
        found = Paper.objects.filter(key=identifier.replace("-", " ")).first()
    if found is None or not found.batches.published().exists():
        raise Http404("No such paper")
    return found


def published_paper_by_pk(pk: int) -> Paper:
    paper = Paper.objects.filter(pk=pk).first()
    if paper is None:
        raise Http404("No such paper")
    return published_paper(paper.identifier)


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
