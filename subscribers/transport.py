"""The chunk's connection to the mail system, and what its errors mean for a row.

Mailer holds one connection per chunk (SMTP or any Django mail backend), opened on first use
and reopened after an error. describe(), reply_code() and recipient_refused() read an
exception: the server's reply, a timeout, a refused recipient. send_rate_limiter() is the
token bucket that holds DELIVERY_RATE_LIMIT across all workers."""

from __future__ import annotations

import smtplib
import socket

from django.conf import settings
from django.core.mail import get_connection

from paperpost.ratelimit import TokenBucket

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


class Mailer:
    """One SMTP connection per chunk, opened on first use and reopened after an error."""

    def __init__(self):
        self.connection = None
        # A message was handed to the transport and its outcome is not written yet: if the
        # chunk stops now, that row is left to the sweep (it may have gone out).
        self.unrecorded = False

    def send(self, message) -> None:
        self.unrecorded = True
        if self.connection is None:
            self.connection = get_connection(fail_silently=False)
            self.connection.open()
        if self.connection.send_messages([message]) != 1:
            raise smtplib.SMTPException("the mail backend accepted no message")

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


_bucket: TokenBucket | None = None


def send_rate_limiter() -> TokenBucket:
    """The shared token bucket (DELIVERY_RATE_LIMIT messages per second, all workers)."""
    global _bucket
    rate = settings.DELIVERY_RATE_LIMIT
    if _bucket is None or _bucket.rate != rate:
        _bucket = TokenBucket(rate, redis_url=settings.REDIS_URL)
    return _bucket
