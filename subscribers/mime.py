"""A fast, strict writer for the one message shape Paperpost sends: multipart/alternative
with a UTF-8 text/plain and a UTF-8 text/html part, both 8bit.

Python's email package builds and serialises such a message in about 2.5 ms (a quarter of
a digest's cost, see benchmarks/README.md); assembling the same bytes from strings takes
a few microseconds. Django's email framework still does everything else (backends,
connections, addresses): EmailMessage.message() just returns this object, whose
as_bytes() is what the SMTP backend sends. Anything outside the shape (attachments, a line
over 998 bytes, a header with a line break) falls back to Django's own message()."""

from __future__ import annotations

import base64
import re
import uuid
from email.utils import formatdate

from django.conf import settings
from django.core.mail import EmailMultiAlternatives

from paperpost.mail import fast_address

MAX_LINE = 998  # RFC 5322
_NEEDS_ENCODING = re.compile(r"[^\x20-\x7e]")


def _header(name: str, value: str, linesep: str) -> str:
    if not _NEEDS_ENCODING.search(value):
        return f"{name}: {value}"
    if name.lower() in ("from", "to", "cc", "reply-to"):
        return f"{name}: {value}"  # already encoded by sanitize_address
    return f"{name}: {encode_words(value, linesep)}"


def encode_words(value: str, linesep: str = "\n") -> str:
    """RFC 2047 "B" encoded-words, folded, each under 76 characters and never splitting a
    UTF-8 sequence (email.header does the same, a hundred times slower)."""
    words, chunk = [], b""
    for char in value:
        encoded = char.encode("utf-8")
        if len(chunk) + len(encoded) > 45:  # 45 bytes -> 60 base64 characters
            words.append(chunk)
            chunk = b""
        chunk += encoded
    if chunk:
        words.append(chunk)
    return (linesep + " ").join(f"=?utf-8?b?{base64.b64encode(w).decode()}?=" for w in words)


def _fits(text: str) -> bool:
    lines = text.split("\n")
    # A character is at most 4 bytes: only lines over 249 characters need measuring.
    if max(map(len, lines), default=0) * 4 <= MAX_LINE:
        return True
    return all(len(line.encode()) <= MAX_LINE for line in lines if len(line) > MAX_LINE // 4)


class AlternativeMessage:
    """The serialised form; only as_bytes()/as_string() and header look-ups are offered."""

    def __init__(self, headers: list[tuple[str, str]], text: str, html: str):
        self.headers = headers
        self.text = text.replace("\r\n", "\n")
        self.html = html.replace("\r\n", "\n")
        self.boundary = "==pp-" + uuid.uuid4().hex

    def __getitem__(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def as_string(self, unixfrom: bool = False, linesep: str = "\n") -> str:
        b = self.boundary
        # Built with "\n" throughout, converted to `linesep` once at the end.
        lines = [_header(name, value, "\n") for name, value in self.headers]
        lines += [
            f'Content-Type: multipart/alternative; boundary="{b}"',
            "MIME-Version: 1.0",
            "",
            f"--{b}",
            'Content-Type: text/plain; charset="utf-8"',
            "MIME-Version: 1.0",
            "Content-Transfer-Encoding: 8bit",
            "",
            self.text,
            f"--{b}",
            'Content-Type: text/html; charset="utf-8"',
            "MIME-Version: 1.0",
            "Content-Transfer-Encoding: 8bit",
            "",
            self.html,
            f"--{b}--",
            "",
        ]
        out = "\n".join(lines)
        return out.replace("\n", linesep) if linesep != "\n" else out

    def as_bytes(self, unixfrom: bool = False, linesep: str = "\n") -> bytes:
        return self.as_string(linesep=linesep).encode("utf-8")


class FastEmail(EmailMultiAlternatives):
    """EmailMultiAlternatives whose message() is the fast writer when the message fits it."""

    def message(self, *args, **kwargs):
        if self.attachments or len(self.alternatives) != 1 or self.alternatives[0][1] != "text/html":
            return super().message(*args, **kwargs)
        html = self.alternatives[0][0]
        values = [self.subject, *self.extra_headers.values()]
        if any("\n" in v or "\r" in v for v in values) or not (_fits(self.body) and _fits(html)):
            return super().message(*args, **kwargs)
        encoding = self.encoding or settings.DEFAULT_CHARSET
        headers = [
            ("Subject", self.subject),
            ("From", fast_address(self.extra_headers.get("From", self.from_email), encoding)),
            ("To", ", ".join(fast_address(a, encoding) for a in self.to)),
        ]
        if self.cc:
            headers.append(("Cc", ", ".join(sanitizefast_address(a, encoding) for a in self.cc)))
        if self.reply_to:
            headers.append(("Reply-To", ", ".join(sanitizefast_address(a, encoding) for a in self.reply_to)))
        lowered = {k.lower() for k in self.extra_headers}
        if "date" not in lowered:
            headers.append(("Date", formatdate(localtime=settings.EMAIL_USE_LOCALTIME)))
        if "message-id" not in lowered:
            from django.core.mail.message import make_msgid

            headers.append(("Message-ID", make_msgid(domain=settings.DEFAULT_FROM_EMAIL.rpartition("@")[2].strip(">") or None)))
        headers += [(k, v) for k, v in self.extra_headers.items() if k.lower() not in ("from", "to", "cc", "reply-to")]
        return AlternativeMessage(headers, self.body, html)
