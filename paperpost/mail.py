"""Mail transport: how a message becomes bytes, and how the bytes leave.

1. FastEmail, a fast and strict writer for the one shape Paperpost sends: multipart/
   alternative with a UTF-8 text/plain and a UTF-8 text/html part, both 8bit. Python's
   email package builds and serialises such a message in about 2.5 ms (a quarter of a
   digest's cost, see benchmarks/README.md); assembling the same bytes from strings takes a
   few microseconds. It is fenced: anything outside that shape (attachments, other parts, a
   line over 998 bytes, a header that would need folding or holds a line break, To/Cc/Reply-To
   given as headers, another charset, ...) goes to Django's own message(). tests/test_mail.py
   parses every shape it writes with the email package.
2. SMTPBackend, Django's SMTP backend on connections that report the one unknowable
   outcome (the data went out, the reply never came), with addresses sanitised once.
3. OutboxBackend, for the embedded mode: each message becomes one .eml file in var/outbox/.
   Django's own file backend appends every message of a connection to one .log file, which
   mail clients cannot open; one RFC 5322 file per message can be double-clicked.

EMAIL_BACKEND names 2 or 3 (paperpost.settings); subscribers.emails builds every message as 1.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import re
import smtplib
import threading
import time
import uuid
from email.utils import format_datetime, formatdate, parseaddr
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.smtp import EmailBackend as DjangoSMTPBackend
from django.core.mail.message import make_msgid, sanitize_address

MAX_LINE = 998  # RFC 5322, bytes per line
_PLAIN_ADDRESS = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+$")
_NEEDS_ENCODING = re.compile(r"[^\x20-\x7e]")
_HEADER_NAME = re.compile(r"^[!-9;-~]+$")
_LINE_DOT = re.compile(rb"\n\.")
ADDRESS_HEADERS = ("from", "to", "cc", "reply-to")
UTF8 = ("utf-8", "utf8")


# --- 1. Bytes -------------------------------------------------------------------------------------


def mail_date() -> str:
    """The Date header. In UTC it says +0000: email.utils.formatdate() (and so Django) write
    -0000, which RFC 5322 (3.3) reserves for a time whose zone is unknown."""
    if settings.EMAIL_USE_LOCALTIME:
        return formatdate(localtime=True)
    return format_datetime(dt.datetime.now(dt.timezone.utc))


_sanitized: dict[tuple[str, str], str] = {}


def fast_address(address: str, encoding: str) -> str:
    """Django's sanitize_address, memoised, with a shortcut for a bare ASCII address (the
    usual recipient): it parses with the email package, a few hundred microseconds a call."""
    if _PLAIN_ADDRESS.match(address):
        return address
    key = (address, encoding)
    if key not in _sanitized:
        if len(_sanitized) > 1000:
            _sanitized.clear()
        _sanitized[key] = sanitize_address(address, encoding)
    return _sanitized[key]


def encode_words(value: str, linesep: str = "\n") -> str:
    """RFC 2047 "B" encoded-words, folded, each under 76 characters and never splitting a
    UTF-8 sequence (email.header does the same, a hundred times slower)."""
    data, words, start = value.encode("utf-8"), [], 0
    while start < len(data):
        # At most 45 bytes (60 base64 characters), cut before a continuation byte
        # (0b10xxxxxx) so that a character stays whole.
        end = min(start + 45, len(data))
        while end < len(data) and data[end] & 0xC0 == 0x80:
            end -= 1
        words.append(data[start:end])
        start = end
    return (linesep + " ").join(f"=?utf-8?b?{base64.b64encode(w).decode()}?=" for w in words)


def _header(name: str, value: str, linesep: str) -> str:
    if not _NEEDS_ENCODING.search(value):
        return f"{name}: {value}"
    if name.lower() in ADDRESS_HEADERS:
        return f"{name}: {value}"  # already encoded by sanitize_address
    return f"{name}: {encode_words(value, linesep)}"


def _fitting(text: str) -> bytes | None:
    """The text in UTF-8 if it can go out as 8bit (no NUL or bare CR, no line over 998
    bytes), else None. The bytes are what goes out (AlternativeMessage.as_bytes): the text
    is encoded once."""
    data = text.encode()
    # Looked for in the bytes: in the text, a search for NUL visits every ASCII character of
    # a string that holds a curly quote (each is stored in two bytes, one of them zero).
    if b"\x00" in data or (b"\r" in data and b"\r" in data.replace(b"\r\n", b"")):
        return None
    return data if lines_fit(data) else None


def lines_fit(data: bytes) -> bool:
    """No line of `data` (split at LF) is over MAX_LINE bytes. A longer line spans MAX_LINE + 1
    positions, so it holds one of every (MAX_LINE + 1)th byte: only the lines through those
    are measured, by a search for LF each way (C's memchr), about 90 for a 90 KB digest.
    Splitting the data into its lines (and so copying them) cost twice as much."""
    step = MAX_LINE + 1
    at, size = MAX_LINE, len(data)
    find, rfind = data.find, data.rfind
    while at < size:
        end = find(b"\n", at)
        if end < 0:
            end = size
        if end - rfind(b"\n", 0, at) - 1 > MAX_LINE:
            return False
        at += step * ((end - at) // step + 1)  # the next such byte after this line
    return True


def _plain_header(name: str, value: str) -> bool:
    """A header the writer puts out as it is, or as encoded-words, without folding it."""
    if not _HEADER_NAME.match(name) or "\n" in value or "\r" in value:
        return False
    # Printable ASCII goes out as it is, so it must not read as encoded-words; other text
    # is encoded whole, so it must not hold some already.
    return "=?" not in value


class AlternativeMessage:
    """The serialised form; only as_bytes()/as_string() and header look-ups are offered."""

    def __init__(self, headers: list[tuple[str, str]], text: str, html: str,
                 encoded: tuple[bytes, bytes] | None = None):
        self.headers = headers
        # Looked for first: a search for "\r\n" in a string that holds a curly quote costs
        # as much as encoding it, and digests have no CR.
        self.text = text.replace("\r\n", "\n") if "\r" in text else text
        self.html = html.replace("\r\n", "\n") if "\r" in html else html
        # The parts in UTF-8 as FastEmail checked them: as_bytes() uses them as they are.
        self.encoded = encoded
        self.boundary = "==pp-" + uuid.uuid4().hex

    def __getitem__(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def _around(self) -> tuple[str, str, str]:
        """What comes before the text part, between the parts and after the HTML part,
        with "\n" line breaks."""
        b = self.boundary
        head = [_header(name, value, "\n") for name, value in self.headers]
        head += [
            f'Content-Type: multipart/alternative; boundary="{b}"',
            "MIME-Version: 1.0",
            "",
            f"--{b}",
            'Content-Type: text/plain; charset="utf-8"',
            "MIME-Version: 1.0",
            "Content-Transfer-Encoding: 8bit",
            "",
            "",
        ]
        middle = [
            "",
            f"--{b}",
            'Content-Type: text/html; charset="utf-8"',
            "MIME-Version: 1.0",
            "Content-Transfer-Encoding: 8bit",
            "",
            "",
        ]
        return "\n".join(head), "\n".join(middle), f"\n--{b}--\n"

    def as_string(self, unixfrom: bool = False, linesep: str = "\n") -> str:
        head, middle, end = self._around()
        out = head + self.text + middle + self.html + end
        return out.replace("\n", linesep) if linesep != "\n" else out

    def as_bytes(self, unixfrom: bool = False, linesep: str = "\n") -> bytes:
        if self.encoded is None:
            return self.as_string(linesep=linesep).encode("utf-8")
        # The same bytes as as_string().encode(), from the parts encoded once: UTF-8 never
        # puts a CR or LF byte inside a character, so line breaks are changed in the bytes.
        text, html = (part.replace(b"\r\n", b"\n") if b"\r" in part else part for part in self.encoded)
        head, middle, end = self._around()
        out = b"".join((head.encode(), text, middle.encode(), html, end.encode()))
        return out.replace(b"\n", linesep.encode()) if linesep != "\n" else out


class FastEmail(EmailMultiAlternatives):
    """EmailMultiAlternatives whose message() is the fast writer when the message fits it."""

    def _fast_parts(self) -> tuple[bytes, bytes] | None:
        """The two parts in UTF-8 when the message fits the fast writer, else None."""
        if self.attachments or len(self.alternatives) != 1 or self.alternatives[0][1] != "text/html":
            return None
        if (self.encoding or settings.DEFAULT_CHARSET).lower() not in UTF8 or not self.to or not self.body:
            return None  # (Django leaves an empty text part out)
        if self.content_subtype != "plain" or self.mixed_subtype != "mixed" or self.alternative_subtype != "alternative":
            return None
        names = {name.lower() for name in self.extra_headers}
        if names & {"to", "cc", "reply-to", "content-type", "mime-version", "content-transfer-encoding"}:
            return None  # Django gives these a meaning of their own
        headers = [("Subject", self.subject)] + [(k, v) for k, v in self.extra_headers.items() if k.lower() != "from"]
        if not all(isinstance(v, str) and _plain_header(k, v) for k, v in headers):
            return None
        text = _fitting(self.body)
        html = _fitting(self.alternatives[0][0]) if text is not None else None
        return None if html is None else (text, html)

    def message(self, *args, **kwargs):
        encoded = None if args or kwargs else self._fast_parts()
        if encoded is None:
            return self._django_message(*args, **kwargs)
        encoding = self.encoding or settings.DEFAULT_CHARSET
        headers = [
            ("Subject", self.subject),
            ("From", fast_address(self.extra_headers.get("From", self.from_email), encoding)),
            ("To", ", ".join(fast_address(a, encoding) for a in self.to)),
        ]
        if self.cc:
            headers.append(("Cc", ", ".join(fast_address(a, encoding) for a in self.cc)))
        if self.reply_to:
            headers.append(("Reply-To", ", ".join(fast_address(a, encoding) for a in self.reply_to)))
        lowered = {k.lower() for k in self.extra_headers}
        if "date" not in lowered:
            headers.append(("Date", mail_date()))
        if "message-id" not in lowered:
            domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or None
            headers.append(("Message-ID", make_msgid(domain=domain)))
        headers += [(k, v) for k, v in self.extra_headers.items() if k.lower() not in ADDRESS_HEADERS]
        if any(len(name) + 2 + len(value) > MAX_LINE for name, value in headers if not _NEEDS_ENCODING.search(value)):
            return self._django_message()  # a header line that would need folding
        return AlternativeMessage(headers, self.body, self.alternatives[0][0], encoded)

    def _django_message(self, *args, **kwargs):
        """Django's writer, with our Date (+0000 rather than its -0000) unless one was given."""
        message = super().message(*args, **kwargs)
        if "date" not in {k.lower() for k in self.extra_headers}:
            message.replace_header("Date", mail_date())  # in place: the header order stays Django's
        return message


# --- 2. SMTP ----------------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def _angle_address(address: str) -> str:
    """smtplib.quoteaddr(address), remembered: a sender writes the same one every time."""
    return f"<{address}>" if _PLAIN_ADDRESS.match(address) else smtplib.quoteaddr(address)


class TrackingSMTP(smtplib.SMTP):
    """smtplib.SMTP that remembers whether the message data of the current transaction
    went out. If the connection then drops before the server's reply, the message may or
    may not have been accepted: the one outcome that cannot be known."""

    payload_sent = False

    def mail(self, sender, options=()):
        self.payload_sent = False  # a new transaction starts
        if any(option.lower() == "smtputf8" for option in options):
            return super().mail(sender, options)  # it changes the command encoding too
        # smtplib.SMTP.mail, the same command, with the sender's address parsed once per
        # process: smtplib parses it with the email package for every message (sendmail()
        # adds a SIZE option whenever the server offers it, so that was every digest).
        optionlist = " " + " ".join(options) if options and self.does_esmtp else ""
        self.putcmd("mail", f"FROM:{_angle_address(sender)}{optionlist}")
        return self.getreply()

    def rcpt(self, recip, options=()):
        if options or not _PLAIN_ADDRESS.match(recip):
            return super().rcpt(recip, options)
        self.putcmd("rcpt", f"TO:<{recip}>")
        return self.getreply()

    def data(self, msg):
        # smtplib.SMTP.data, with the dot-stuffing (RFC 5321 4.5.2: a line starting with "."
        # gets one more) as a search for a literal instead of its line-anchored regex over the
        # whole message: the compiled HTML's style block has such lines in every digest. (The
        # regex engine finds the two bytes in half the time bytes.replace() does: "\n" is
        # common, and "." after it rare.)
        if isinstance(msg, str):
            return super().data(msg)
        if msg.startswith(b"."):
            msg = b"." + msg
        msg = _LINE_DOT.sub(b"\n..", msg)
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


class SMTPBackend(DjangoSMTPBackend):
    """Django's SMTP backend, on connections that report an unknowable outcome."""

    def _send(self, email_message):
        # Django's own _send, with the addresses sanitised by fast_address.
        if not email_message.recipients():
            return False
        encoding = email_message.encoding or settings.DEFAULT_CHARSET
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


# --- 3. The outbox (embedded mode) ------------------------------------------------------------------

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
