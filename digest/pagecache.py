"""Versioned caching of public pages and feeds.

Every cached page or feed has the *content version* in its key. A publish, a curator's edit
or an ingest replaces the version (bump_content_version), so a cached page is never stale:
the next request renders under the new key. The version lives in the shared cache (Redis,
or files in embedded mode); each process also keeps what it read in `memo`.

The community's counts on papers (Paper.community_votes, Paper.community_comments) change far
more often than the papers: they have their own *signal version*, bumped on every vote or
comment. Pages and feeds that show the counts add it to their keys (page_version()); caches
that depend on the papers alone (similar papers, a topic's matches) keep the content version.

This module knows nothing of pages: the site (web.views) and the feeds (digest.feeds,
subscribers.feeds) build their keys from content_version() and keep results in memo."""

from __future__ import annotations

import time
import uuid

from django.conf import settings
from django.core.cache import cache

VERSION_KEY = "public-version"

# [version, when this process read it (time.monotonic())]
_version_seen: list = [None, 0.0]


def content_version() -> str:
    """Part of every cache key of a public page or feed. It also expires on its own
    (PAGE_CACHE_SECONDS), as a safety net for changes made behind the application's back.

    Each process reuses the version it last read for PAGE_VERSION_MEMO_SECONDS (1 s): under
    load that turns a Redis round trip per request into one per second, at the price of
    other processes seeing a publish up to a second late (the publishing process sees it
    at once)."""
    now = time.monotonic()
    version, read_at = _version_seen
    if version is not None and now - read_at < settings.PAGE_VERSION_MEMO_SECONDS:
        return version
    version = cache.get(VERSION_KEY)
    if version is None:
        version = uuid.uuid4().hex[:12]
        if not cache.add(VERSION_KEY, version, settings.PAGE_CACHE_SECONDS):
            version = cache.get(VERSION_KEY) or version
    _version_seen[:] = [version, now]
    return version


def bump_content_version() -> None:
    """What the public pages show has changed: every cached page and feed is replaced."""
    version = uuid.uuid4().hex[:12]
    cache.set(VERSION_KEY, version, settings.PAGE_CACHE_SECONDS)
    _version_seen[:] = [version, time.monotonic()]


def forget_content_version() -> None:
    """Drop what this process remembers (after the shared cache was cleared, as tests do)."""
    _version_seen[:] = [None, 0.0]
    _signal_seen[:] = [None, 0.0]
    memo.data.clear()


SIGNAL_KEY = "signal-version"
_signal_seen: list = [None, 0.0]


def signal_version() -> str:
    """Like content_version(), for the community's counts: a vote shows on other processes'
    cached pages at most PAGE_VERSION_MEMO_SECONDS late (at once on the voter's own)."""
    now = time.monotonic()
    version, read_at = _signal_seen
    if version is not None and now - read_at < settings.PAGE_VERSION_MEMO_SECONDS:
        return version
    version = cache.get(SIGNAL_KEY)
    if version is None:
        version = uuid.uuid4().hex[:12]
        if not cache.add(SIGNAL_KEY, version, settings.PAGE_CACHE_SECONDS):
            version = cache.get(SIGNAL_KEY) or version
    _signal_seen[:] = [version, now]
    return version


def bump_signal_version() -> None:
    """A vote or a comment changed a count: pages and feeds that show counts are rendered again."""
    version = uuid.uuid4().hex[:12]
    cache.set(SIGNAL_KEY, version, settings.PAGE_CACHE_SECONDS)
    _signal_seen[:] = [version, time.monotonic()]


def page_version() -> str:
    """The key part for a page or feed that shows papers with their counts."""
    return f"{content_version()}.{signal_version()}"


class _Memo:
    """A small per-process store in front of the shared cache, for values whose key carries
    the content version: such a value never changes once computed, so a process may keep it
    without asking Redis again. This saves the transfer and unpickling of a 200 KB page per
    request; only the version itself is read from the shared cache (see content_version)."""

    def __init__(self, size: int = 64):
        self.size = size
        self.data: dict = {}

    def get(self, key):
        return self.data.get(key)

    def set(self, key, value) -> None:
        if len(self.data) >= self.size:
            # Dicts keep insertion order: drop the oldest quarter (mostly older versions).
            for old in list(self.data)[: self.size // 4]:
                del self.data[old]
        self.data[key] = value


memo = _Memo()
