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


class TrackingSMTP(smtplib.SMTP):
    """smtplib.SMTP that remembers whether the message data of the current transaction
    went out. If the connection then drops before the server's reply, the message may or
    may not have been accepted: the one outcome that cannot be known."""

    payload_sent = False

    def mail(self, sender, options=()):
        self.payload_sent = False  # a new transaction starts
        return super().mail(sender, options)

    def send(self, s):
        super().send(s)
        data = s if isinstance(s, bytes) else str(s).encode("ascii", "replace")
        if data.endswith(b"\r\n.\r\n"):
            self.payload_sent = True


class TrackingSMTP_SSL(smtplib.SMTP_SSL, TrackingSMTP):  # noqa: N801
    pass


class SMTPBackend(DjangoSMTPBackend):
    """Django's SMTP backend, on connections that report an unknowable outcome."""

    @property
    def connection_class(self):
        return TrackingSMTP_SSL if self.use_ssl else TrackingSMTP

    @property
    def payload_sent(self) -> bool:
        return bool(self.connection is not None and getattr(self.connection, "payload_sent", False))
