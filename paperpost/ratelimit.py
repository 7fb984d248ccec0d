"""Rate limits that hold across every web process and under concurrency.

Each window is one row of paperpost.RateCounter, counted with a single INSERT .. ON CONFLICT
DO UPDATE .. RETURNING statement: the database does the read and the increment as one step,
so parallel requests cannot both see the last free slot (the file cache's add-then-incr let
27 of 60 parallel posts through a limit of 10). It works the same on SQLite and PostgreSQL,
whatever the cache is."""

from __future__ import annotations

import hashlib
import random
import threading
import time

import redis
from django.conf import settings
from django.db import connection, transaction

from .models import RateCounter


def _key(scope: str, ident: str) -> str:
    return f"{scope}:{hashlib.sha256(ident.encode()).hexdigest()[:40]}"


def hit(scope: str, ident: str, window: int) -> int:
    """Count one event for `ident` in `scope`; return the count in the current window
    (1 for the first event of a new window)."""
    now = time.time()
    q = connection.ops.quote_name
    table, key, count, expires = q(RateCounter._meta.db_table), q("key"), q("count"), q("expires")
    sql = (
        f"INSERT INTO {table} ({key}, {count}, {expires}) VALUES (%s, 1, %s) "
        f"ON CONFLICT ({key}) DO UPDATE SET "
        f"{count} = CASE WHEN {table}.{expires} <= %s THEN 1 ELSE {table}.{count} + 1 END, "
        f"{expires} = CASE WHEN {table}.{expires} <= %s THEN excluded.{expires} ELSE {table}.{expires} END "
        f"RETURNING {count}"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [_key(scope, ident), now + window, now, now])
        counted = cursor.fetchone()[0]
    if random.random() < 0.01:
        # Expired windows are only dead rows; one request in a hundred sweeps them away, so the
        # table stays small without a scheduled job.
        RateCounter.objects.filter(expires__lt=now).delete()
    return counted


def allow(scope: str, ident: str, limit: int, window: int) -> bool:
    """Count one event for `ident`; False once more than `limit` fell in the window."""
    return hit(scope, ident, window) <= limit


def once(scope: str, ident: str, window: int) -> bool:
    """True the first time in `window` seconds, False after (one email per address per hour)."""
    return window <= 0 or hit(scope, ident, window) == 1


def forget(scope: str, ident: str) -> None:
    """Drop the count of `ident` (once() is True again): for an event that did not happen after all."""
    RateCounter.objects.filter(key=_key(scope, ident)).delete()


def parse_rate(value: str) -> tuple[int, int]:
    """"10/600" -> (10 events, per 600 seconds)."""
    count, _, seconds = value.partition("/")
    return int(count), int(seconds or 60)


def client_ip(request) -> str:
    """The client's address: REMOTE_ADDR, or behind our own proxy (BEHIND_PROXY) the last
    address it appended to X-Forwarded-For (earlier ones are whatever the client sent)."""
    if settings.SECURE_PROXY_SSL_HEADER and request.META.get("HTTP_X_FORWARDED_FOR"):
        return request.META["HTTP_X_FORWARDED_FOR"].split(",")[-1].strip()
    return request.META.get("REMOTE_ADDR", "")


# --- A sending rate that holds across every worker ---------------------------------------------

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
