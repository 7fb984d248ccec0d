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


# --- A sending rate that holds across every worker ---------------------------------------------

import threading  # noqa: E402
import time  # noqa: E402

_BUCKET_LUA = """
local key = KEYS[1]
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local state = redis.call('HMGET', key, 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = (1 - tokens) / rate
  tokens = tokens - 1
end
redis.call('HSET', key, 'tokens', tokens, 'at', now)
redis.call('PEXPIRE', key, math.ceil(1000 * (burst / rate + 60)))
return tostring(wait)
"""


class TokenBucket:
    """`rate` messages per second for every worker together. With Redis the bucket lives in
    one key updated by a Lua script (atomic, so workers cannot both take the last token);
    without it (embedded mode, one process) it lives in memory. take() reserves a token and
    sleeps until it is due."""

    def __init__(self, rate: float, burst: float | None = None, redis_url: str = "", key: str = "paperpost:send-rate"):
        self.rate = rate
        self.burst = burst or max(1.0, rate)
        self.key = key
        self._lock = threading.Lock()
        self._tokens, self._at = self.burst, time.monotonic()
        self._script = None
        if redis_url and rate > 0:
            import redis

            self._client = redis.Redis.from_url(redis_url)
            self._script = self._client.register_script(_BUCKET_LUA)

    def reserve(self) -> float:
        """Take one token; return how many seconds to wait before using it."""
        if self.rate <= 0:
            return 0.0
        if self._script is not None:
            # Redis's clock, not ours: every worker measures with the same one.
            seconds, micros = self._client.time()
            return float(self._script(keys=[self.key], args=[self.rate, self.burst, seconds + micros / 1e6]))
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
            self._at = now
            self._tokens -= 1
            return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def take(self) -> None:
        wait = self.reserve()
        if wait > 0:
            time.sleep(wait)
