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
