"""Rate limits kept in the cache, so they hold across every web process (Redis in
production, a file cache shared by the processes of one machine in embedded mode)."""

from __future__ import annotations

import hashlib

from django.core.cache import cache


def _key(scope: str, ident: str) -> str:
    return f"rl:{scope}:{hashlib.sha256(ident.encode()).hexdigest()[:32]}"


def allow(scope: str, ident: str, limit: int, window: int) -> bool:
    """Count one event for `ident`; False once more than `limit` fell in the window."""
    key = _key(scope, ident)
    # add() creates the counter with its expiry only if absent (SET NX on Redis).
    if cache.add(key, 1, timeout=window):
        return True
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add() and incr()
        cache.add(key, 1, timeout=window)
        return True
    return count <= limit


def once(scope: str, ident: str, window: int) -> bool:
    """True the first time in `window` seconds, False after (one email per address per hour)."""
    return cache.add(_key(scope, ident), 1, timeout=window)


def parse_rate(value: str) -> tuple[int, int]:
    """"10/600" -> (10 events, per 600 seconds)."""
    count, _, seconds = value.partition("/")
    return int(count), int(seconds or 60)
