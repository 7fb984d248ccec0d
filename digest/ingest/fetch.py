"""Fetching a source's bytes, with the guards a server that fetches URLs needs.

Only http and https. Every host name is resolved and each of its addresses checked: loopback,
private, link-local (169.254.169.254 is the cloud metadata service), carrier-grade NAT,
multicast, reserved and unspecified addresses are refused, again on every redirect. The
connection then goes to the address that was checked, not to a second DNS answer, so a
rebinding DNS server cannot slip a private address in between. INGEST_ALLOWED_HOSTS names
hosts exempt from the address check (tests and intranet feeds). INGEST_TIMEOUT is a deadline
for the whole fetch, redirects included (a server dripping a byte a second is cut off at it,
not just one that stops answering), a size cap (also on the decompressed body), a polite
User-Agent and conditional GET (ETag, Last-Modified)."""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import threading
import time
import zlib
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from django.conf import settings

MAX_REDIRECTS = 5


class FetchError(Exception):
    """The URL could not be fetched; the message says why in one line."""


@dataclass
class FetchResult:
    url: str  # the final URL after redirects
    status: int
    body: bytes
    etag: str = ""
    last_modified: str = ""

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def check_address(ip: str) -> None:
    addr = ipaddress.ip_address(ip)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        addr = addr.ipv4_mapped
    if not addr.is_global or addr.is_multicast:
        kind = (
            "loopback" if addr.is_loopback
            else "link-local" if addr.is_link_local
            else "private" if addr.is_private
            else "non-public"
        )
        raise FetchError(f"refused: {ip} is a {kind} address")


def resolve(host: str, port: int) -> str:
    """The first address of `host`, after checking every address it resolves to."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise FetchError(f"cannot resolve {host}: {exc.strerror}") from None
    addresses = [info[4][0] for info in infos]
    if not addresses:
        raise FetchError(f"cannot resolve {host}")
    allowed = {h.lower() for h in settings.INGEST_ALLOWED_HOSTS}
    if host.lower() not in allowed:
        for ip in addresses:
            check_address(ip)
    return addresses[0]


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host, port, ip, timeout):
        super().__init__(host, port, timeout=timeout)
        self._ip = ip

    def connect(self):
        self.sock = socket.create_connection((self._ip, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host, port, ip, timeout):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._ip = ip

    def connect(self):
        sock = socket.create_connection((self._ip, self.port), self.timeout)
        # SNI and certificate checks use the host name, the TCP connection the checked address.
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def user_agent() -> str:
    return f"Paperpost/0.1 (+{settings.SITE_URL}; {settings.DEFAULT_FROM_EMAIL})"


class _Deadline:
    """The moment a fetch must be over by. A watchdog shuts the connection's socket down at
    that moment, which wakes any read blocked in http.client (status line, headers or body)."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.at = time.monotonic() + seconds

    def left(self) -> float:
        return self.at - time.monotonic()

    @property
    def passed(self) -> bool:
        return self.left() <= 0

    def watch(self, conn) -> threading.Timer:
        def cut():
            sock = conn.sock
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

        timer = threading.Timer(max(0.0, self.left()), cut)
        timer.daemon = True
        timer.start()
        return timer


def _read_capped(response, limit: int, deadline: _Deadline | None = None) -> bytes:
    chunks, total = [], 0
    while True:
        # read1: whatever has arrived, so a slow trickle returns to this loop (and the deadline)
        # instead of blocking inside one large read.
        chunk = response.read1(65536)
        if deadline is not None and deadline.passed:
            raise FetchError(f"timed out after {deadline.seconds:g} s")
        if not chunk:
            break
        total += len(chunk)
        if total > limit:
            raise FetchError(f"refused: the body is larger than {limit // 1_000_000} MB")
        chunks.append(chunk)
    return b"".join(chunks)


def _decompress(body: bytes, encoding: str, limit: int) -> bytes:
    encoding = (encoding or "").lower()
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise FetchError(f"unsupported Content-Encoding {encoding!r}")
    wbits = 16 + zlib.MAX_WBITS if "gzip" in encoding else zlib.MAX_WBITS
    decompressor = zlib.decompressobj(wbits)
    try:
        out = decompressor.decompress(body, limit + 1)
    except zlib.error as exc:
        raise FetchError(f"the compressed body is corrupt: {exc}") from None
    if len(out) > limit or decompressor.unconsumed_tail:
        raise FetchError(f"refused: the decompressed body is larger than {limit // 1_000_000} MB")
    return out


def _split(url: str):
    """urlsplit, with the ValueErrors of impossible URLs (port 99999, a broken IPv6 host) as
    one-line FetchErrors."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError for a port out of range)
        return parts
    except ValueError as exc:
        if "port" in str(exc).lower():
            raw = url.split("//", 1)[-1].split("/", 1)[0].rsplit(":", 1)[-1]
            raise FetchError(f"not a valid URL: port {raw[:20]} is not a number from 0 to 65535") from None
        raise FetchError(f"not a valid URL: {exc}") from None


def fetch(url: str, etag: str = "", last_modified: str = "") -> FetchResult:
    timeout = settings.INGEST_TIMEOUT
    deadline = _Deadline(timeout)
    limit = settings.INGEST_MAX_BYTES
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        parts = _split(current)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            raise FetchError(f"refused: only http and https URLs are fetched, not {scheme or 'a relative URL'}:")
        if not parts.hostname:
            raise FetchError(f"refused: {current!r} has no host")
        port = parts.port or (443 if scheme == "https" else 80)
        ip = resolve(parts.hostname, port)
        if deadline.passed:
            raise FetchError(f"{parts.hostname}: timed out after {timeout:g} s")
        cls = _PinnedHTTPSConnection if scheme == "https" else _PinnedHTTPConnection
        conn = cls(parts.hostname, port, ip, min(timeout, deadline.left()))
        watchdog = deadline.watch(conn)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        headers = {
            "User-Agent": user_agent(),
            "Accept": "application/rss+xml, application/atom+xml, application/xml, application/json, text/plain;q=0.8, */*;q=0.5",
            "Accept-Encoding": "gzip",
        }
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        try:
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            if response.status in (301, 302, 303, 307, 308):
                location = response.getheader("Location")
                response.close()
                if not location:
                    raise FetchError(f"HTTP {response.status} without a Location header")
                current = urljoin(current, location)
                continue
            if response.status == 304:
                return FetchResult(current, 304, b"", etag, last_modified)
            declared = response.getheader("Content-Length")
            if declared and declared.isdigit() and int(declared) > limit:
                raise FetchError(f"refused: the body is larger than {limit // 1_000_000} MB")
            body = _decompress(_read_capped(response, limit, deadline), response.getheader("Content-Encoding", ""), limit)
            return FetchResult(
                url=current,
                status=response.status,
                body=body,
                etag=response.getheader("ETag", "") or "",
                last_modified=response.getheader("Last-Modified", "") or "",
            )
        except (OSError, http.client.HTTPException) as exc:
            if deadline.passed:
                reason = f"timed out after {timeout:g} s"
            elif isinstance(exc, (socket.timeout, TimeoutError)):
                reason = "timed out"
            else:
                reason = f"{type(exc).__name__}: {exc}"
            raise FetchError(f"{parts.hostname}: {reason}") from None
        finally:
            watchdog.cancel()
            conn.close()
    raise FetchError(f"more than {MAX_REDIRECTS} redirects")
