"""The embedded-mode email backend: each message becomes one .eml file in var/outbox/.

Django's own file backend appends every message of a connection to one .log file, which
mail clients cannot open; one RFC 5322 file per message can be double-clicked."""

from __future__ import annotations

import os
import re
import threading
import time
from pathlib import Path

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend

_counter_lock = threading.Lock()
_counter = 0


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)[:60] or "message"


class OutboxBackend(BaseEmailBackend):
    def __init__(self, *args, outbox_dir: str | Path | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.outbox = Path(outbox_dir or settings.OUTBOX_DIR)

    def send_messages(self, email_messages) -> int:
        global _counter
        self.outbox.mkdir(parents=True, exist_ok=True)
        sent = 0
        for message in email_messages:
            with _counter_lock:
                _counter += 1
                number = _counter
            recipient = _safe(message.to[0] if message.to else "nobody")
            name = f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{number:06d}-{recipient}.eml"
            tmp = self.outbox / (name + ".tmp")
            tmp.write_bytes(message.message().as_bytes(linesep="\r\n"))
            tmp.rename(self.outbox / name)  # readers never see a half-written file
            sent += 1
        return sent


import smtplib  # noqa: E402

from django.core.mail.backends.smtp import EmailBackend as DjangoSMTPBackend  # noqa: E402


_PLAIN_ADDRESS = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+$")


class TrackingSMTP(smtplib.SMTP):
    """smtplib.SMTP that remembers whether the message data of the current transaction
    went out. If the connection then drops before the server's reply, the message may or
    may not have been accepted: the one outcome that cannot be known."""

    payload_sent = False

    def mail(self, sender, options=()):
        self.payload_sent = False  # a new transaction starts
        if options or not _PLAIN_ADDRESS.match(sender):
            return super().mail(sender, options)
        # smtplib parses every address again with the email package; ours are sanitised.
        self.putcmd("mail", f"FROM:<{sender}>")
        return self.getreply()

    def rcpt(self, recip, options=()):
        if options or not _PLAIN_ADDRESS.match(recip):
            return super().rcpt(recip, options)
        self.putcmd("rcpt", f"TO:<{recip}>")
        return self.getreply()

    def data(self, msg):
        # smtplib.SMTP.data, but the dot-stuffing regex runs only when a line starts with ".".
        if isinstance(msg, str) or msg.startswith(b".") or b"\n." in msg:
            return super().data(msg)
        self.putcmd("data")
        code, repl = self.getreply()
        if code != 354:
            raise smtplib.SMTPDataError(code, repl)
        if msg[-2:] != b"\r\n":
            msg += b"\r\n"
        self.send(msg + b".\r\n")
        return self.getreply()

    def send(self, s):
        super().send(s)
        data = s if isinstance(s, bytes) else str(s).encode("ascii", "replace")
        if data.endswith(b"\r\n.\r\n"):
            self.payload_sent = True


class TrackingSMTP_SSL(smtplib.SMTP_SSL, TrackingSMTP):  # noqa: N801
    pass


_sanitized: dict[tuple[str, str], str] = {}


def fast_address(address: str, encoding: str) -> str:
    """Django's sanitize_address, memoised, with a shortcut for a bare ASCII address (the
    usual recipient): it parses with the email package, a few hundred microseconds a call."""
    from django.core.mail.message import sanitize_address

    if _PLAIN_ADDRESS.match(address):
        return address
    key = (address, encoding)
    if key not in _sanitized:
        if len(_sanitized) > 1000:
            _sanitized.clear()
        _sanitized[key] = sanitize_address(address, encoding)
    return _sanitized[key]


class SMTPBackend(DjangoSMTPBackend):
    """Django's SMTP backend, on connections that report an unknowable outcome."""

    def _send(self, email_message):
        # Django's own _send, with the addresses sanitised by fast_address.
        from django.conf import settings as django_settings

        if not email_message.recipients():
            return False
        encoding = email_message.encoding or django_settings.DEFAULT_CHARSET
        from_email = fast_address(email_message.from_email, encoding)
        recipients = [fast_address(addr, encoding) for addr in email_message.recipients()]
        message = email_message.message()
        try:
            self.connection.sendmail(from_email, recipients, message.as_bytes(linesep="\r\n"))
        except smtplib.SMTPException:
            if not self.fail_silently:
                raise
            return False
        return True

    @property
    def connection_class(self):
        return TrackingSMTP_SSL if self.use_ssl else TrackingSMTP

    @property
    def payload_sent(self) -> bool:
        return bool(self.connection is not None and getattr(self.connection, "payload_sent", False))
