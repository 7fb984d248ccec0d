"""Filters for the lists of papers: abstracts cut on a word boundary (one ellipsis style,
digest.text.shorten, as in emails) and thumbnails from the allowed hosts only."""

from urllib.parse import urlsplit

from django import template
from django.conf import settings

from digest.text import shorten as _shorten

register = template.Library()


@register.filter
def shorten(text: str, limit: int) -> str:
    return _shorten(text, int(limit))


@register.filter
def thumbnail(paper) -> str:
    """The paper's preview image, if its host is one the Content-Security-Policy allows
    (THUMBNAIL_HOSTS); else nothing, rather than an image the browser would block."""
    url = getattr(paper, "thumbnail", "") or ""
    return url if url.startswith("https://") and urlsplit(url).hostname in settings.THUMBNAIL_HOSTS else ""


@register.filter
def tags_of(tags: dict, paper) -> list:
    return (tags or {}).get(paper.pk, [])
