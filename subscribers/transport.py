"""The chunk's connection to the mail system, and what its answers mean for a row.

Mailer holds one connection per chunk (SMTP, or an ESP's HTTP API through django-anymail),
opened on first use and reopened after an error. Backends that can post many messages in one
request (paperpost.esp's Postmark batch backend) get them in batches. verdict() reads a
failure, from SMTP or from an ESP, as one of: failed (do not retry), retry (after a backoff,
or after the server's Retry-After), unknown (the message may have gone out: never resent
automatically). accepted() reads an ESP's per-message answer (sent, queued, rejected, ...)
and its message id. send_rate_limiter() is the token bucket that holds DELIVERY_RATE_LIMIT
across all workers."""

from __future__ import annotations

import smtplib
import socket
from dataclasses import dataclass

import requests
from anymail.exceptions import AnymailAPIError, AnymailError, AnymailRecipientsRefused, AnymailRequestsAPIError
from django.conf import settings
from django.core.mail import get_connection

from paperpost.ratelimit import TokenBucket

FAILED, RETRY, UNKNOWN = "failed", "retry", "unknown"
# What an ESP says of a recipient (anymail's statuses): these mean the message will not go out.
REFUSED = {"rejected", "invalid", "failed"}


@dataclass(frozen=True)
class Verdict:
    kind: str  # FAILED, RETRY or UNKNOWN
    error: str
    suppress: bool = False  # the answer is about the address itself: a hard bounce
    retry_after: float | None = None  # seconds the server asked us to wait
    whole_chunk: bool = False  # a rate limit: the rest of the chunk waits too


def verdict(exc: Exception, payload_sent: bool = False) -> Verdict:
    """What a failed send means for its row."""
    error = describe(exc)
    if isinstance(exc, AnymailError):
        return _esp_verdict(exc, error)
    code = reply_code(exc)
    if payload_sent and code is None:
        # The data went out and the connection died before the reply: the server may have
        # accepted it.
        return Verdict(UNKNOWN, f"outcome unknown: the connection failed after the message data ({error})")
    if code is not None and code >= 500:
        return Verdict(FAILED, error, suppress=recipient_refused(exc))
    if isinstance(exc, (smtplib.SMTPException, OSError)):
        return Verdict(RETRY, error)  # 4xx, timeouts, dropped connections
    # Not an SMTP answer: a bug in a mail backend or a library; the same bug would stop it again.
    return Verdict(FAILED, error)


def _esp_verdict(exc: AnymailError, error: str) -> Verdict:
    if isinstance(exc, AnymailRecipientsRefused):
        statuses = getattr(getattr(exc.email_message, "anymail_status", None), "status", None) or set()
        return Verdict(FAILED, error, suppress="rejected" in statuses)
    if isinstance(exc, AnymailRequestsAPIError):
        response = exc.response
        if response is None:
            if _never_sent(exc):
                return Verdict(RETRY, error)
            return Verdict(UNKNOWN, f"outcome unknown: no answer from the ESP after the request ({error})")
        status = response.status_code
        wait = retry_after(response)
        if status == 429:
            return Verdict(RETRY, error, retry_after=wait, whole_chunk=True)
        if status >= 500 or status in (401, 403, 408):
            # The ESP's trouble, or our credentials: nothing about this message. Retried (and
            # failed after DELIVERY_MAX_ATTEMPTS), with the answer recorded for the operator.
            return Verdict(RETRY, error, retry_after=wait)
        return Verdict(FAILED, error)  # 400, 413, 422: this message was refused as it is
    if isinstance(exc, AnymailAPIError):
        return Verdict(RETRY, error)  # an SDK-based ESP (Amazon SES): throttling, outages
    # A message the ESP refused in a batch answer, an unsupported feature, a bad address:
    # the same every time.
    return Verdict(FAILED, error)


def _never_sent(exc: Exception) -> bool:
    """A request that failed before any byte reached the ESP (no connection): safe to retry.
    A timeout or a reset after sending it may have been processed: unknown."""
    cause = exc.__cause__ or exc
    if isinstance(cause, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(cause, requests.exceptions.ConnectionError):
        text = repr(cause)
        return "NewConnectionError" in text or "Connection refused" in text or "NameResolutionError" in text
    return False


def retry_after(response) -> float | None:
    value = (response.headers or {}).get("Retry-After", "")
    try:
        return max(0.0, min(float(value), settings.DELIVERY_RETRY_MAX_SECONDS))
    except (TypeError, ValueError):
        return None


def reply_code(exc: Exception) -> int | None:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return min(codes) if codes else None
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code
    return None


def describe(exc: Exception) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "; ".join(
            f"{addr}: {code} {msg.decode(errors='replace') if isinstance(msg, bytes) else msg}"
            for addr, (code, msg) in exc.recipients.items()
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        msg = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
        return f"{exc.smtp_code} {msg}"
    if isinstance(exc, AnymailError):
        # anymail's text holds the whole API response; the first lines say what happened.
        lines = [line for line in str(exc).splitlines() if line.strip()]
        return f"{type(exc).__name__}: {' '.join(lines[:3])}"[:1000]
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return f"timed out: {exc}" if str(exc) else "timed out"
    return f"{type(exc).__name__}: {exc}"


def recipient_refused(exc: Exception) -> bool:
    """A 5xx that is about this recipient (no such user, mailbox disabled), as opposed to
    one about the sender or the message: only the former suppresses the address."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return True
    if isinstance(exc, smtplib.SMTPDataError):
        text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return text.startswith(("5.1.", "5.2.1", "5.2.2"))
    return False


def accepted(message) -> tuple[str, str]:
    """(status, the ESP's message id) of a message a backend took without raising: ("sent",
    "") for SMTP; for an ESP its answer, e.g. ("queued", "b7bc2f4a-...") or ("rejected", "")."""
    status = getattr(message, "anymail_status", None)
    if status is None or not status.status:
        return "sent", ""
    statuses = status.status
    refused = statuses & REFUSED
    if refused and refused == statuses:
        return sorted(refused)[0], ""
    message_id = status.message_id
    if isinstance(message_id, set):
        message_id = ",".join(sorted(str(m) for m in message_id))
    return ("queued" if "queued" in statuses else "sent"), ("" if message_id is None else str(message_id))[:200]


class Mailer:
    """One connection per chunk, opened on first use and reopened after an error."""

    def __init__(self):
        self.connection = None
        self._opened = False

    def _open(self):
        if self.connection is None:
            self.connection = get_connection(fail_silently=False)
        if not self._opened:
            self.connection.open()
            self._opened = True
        return self.connection

    @property
    def batch_size(self) -> int:
        """Messages the backend takes in one request (1: one at a time)."""
        if self.connection is None:
            self.connection = get_connection(fail_silently=False)  # made, not opened
        return int(getattr(self.connection, "batch_size", 1) or 1)

    def send(self, message) -> None:
        if self._open().send_messages([message]) != 1:
            raise smtplib.SMTPException("the mail backend accepted no message")

    def send_batch(self, messages: list) -> list[Exception | None]:
        """Send many messages in one request; per message, None or the exception that
        message met. A failure of the request itself is raised (it concerns them all)."""
        return self._open().send_batch(messages)

    @property
    def payload_sent(self) -> bool:
        """Did the message data go out before the failure? (Only the SMTP backend knows.)"""
        return bool(getattr(self.connection, "payload_sent", False))

    def reset(self) -> None:
        if self.connection is not None:
            try:
                self.connection.close()
            except Exception:  # closing a dead connection must not hide the real outcome
                pass
        self.connection = None
        self._opened = False


_bucket: TokenBucket | None = None


def send_rate_limiter() -> TokenBucket:
    """The shared token bucket (DELIVERY_RATE_LIMIT messages per second, all workers)."""
    global _bucket
    rate = settings.DELIVERY_RATE_LIMIT
    if _bucket is None or _bucket.rate != rate:
        _bucket = TokenBucket(rate, redis_url=settings.REDIS_URL)
    return _bucket
