"""The paper a community URL names: /paper/<identifier>/... as the paper page reads it, and
only once a published batch holds it (draft papers take no votes, comments or API reads)."""

from __future__ import annotations

from django.http import Http404

from digest.models import Paper


def published_paper(identifier: str) -> Paper:
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
