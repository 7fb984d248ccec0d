"""paperpost.mail's fast writer, fenced: every shape it writes is read back by the email
package exactly as Django's own message() would have it, and every shape it does not
handle goes to Django's message()."""

from __future__ import annotations

import email
import itertools
from email import policy

import pytest
from django.core.mail import BadHeaderError

from paperpost.mail import AlternativeMessage, FastEmail

SUBJECTS = ["Hi", "7 papers on LoRA & PEFT · Thu 19 Mar", "Café ☕ " * 20]
SENDERS = ["digest@example.org", "Paperpost <digest@example.org>", "Jürgen Müller <j@example.org>"]
COPIES = [[], ["c@example.org"], ['"Doe, Jane" <jane@example.org>', "Zoë <z@example.org>"]]
HEADERS = [
    {},
    {"Message-ID": "<digest.1.2.abc@example.org>", "Date": "Thu, 19 Mar 2026 06:00:00 -0000"},
    {"List-Unsubscribe": "<https://papers.example.org/u/" + "t" * 120 + "/unsubscribe/>",
     "List-Unsubscribe-Post": "List-Unsubscribe=One-Click", "List-Id": "Paperpost <digest.example.org>"},
    {"X-Note": "naïve résumé ✓"},
]
BODIES = [("plain text\n", "<p>html</p>"), ("Grüße, ☕ " * 30 + "\n" + "x" * 990, "<p>" + "é" * 240 + "</p>"), ("\n", "")]


def build(subject, sender, copies, headers, bodies, to=("Reader <reader@example.org>",)):
    message = FastEmail(subject, bodies[0], sender, list(to), cc=copies, reply_to=copies, headers=dict(headers))
    message.attach_alternative(bodies[1], "text/html")
    return message


def parse(raw: bytes):
    return email.message_from_bytes(raw, policy=policy.default)


def django_message(message: FastEmail):
    return parse(super(FastEmail, message).message().as_bytes(linesep="\r\n"))


# Every combination of subject, sender, copies and headers, the bodies taken in turn.
SHAPES = [(*shape, BODIES[i % len(BODIES)])
          for i, shape in enumerate(itertools.product(SUBJECTS, SENDERS, COPIES, HEADERS))]


@pytest.mark.parametrize("subject, sender, copies, headers, bodies", SHAPES)
def test_every_shape_the_fast_writer_takes_reads_back_as_djangos(subject, sender, copies, headers, bodies):
    message = build(subject, sender, copies, headers, bodies)
    fast = message.message()
    assert isinstance(fast, AlternativeMessage)
    raw = fast.as_bytes(linesep="\r\n")
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    ours, django = parse(raw), django_message(message)
    assert not ours.defects and all(not part.defects for part in ours.walk())
    assert ours.get_content_type() == django.get_content_type() == "multipart/alternative"
    for name in ("Subject", "From", "To", "Cc", "Reply-To", *headers):
        # (Django folds a long value onto a new line, which unfolds to a leading space.)
        assert str(ours[name] or "").strip() == str(django[name] or "").strip(), name
    assert ours["Message-ID"] and ours["Date"]
    for kind in ("plain", "html"):
        assert ours.get_body((kind,)).get_content() == django.get_body((kind,)).get_content()
        assert ours.get_body((kind,)).get_content_charset() == "utf-8"


def test_cc_and_reply_to_go_out_sanitised():
    message = build("Hi", "a@example.org", ["Zoë <z@example.org>"], {}, BODIES[0])
    parsed = parse(message.message().as_bytes())
    assert parsed["Cc"].addresses[0].display_name == "Zoë"
    assert parsed["Reply-To"].addresses[0].addr_spec == "z@example.org"


def _other(change):
    message = build("Hi", "a@example.org", [], {}, ("text", "<p>x</p>"))
    change(message)
    return message


OUTSIDE = {
    "an attachment": lambda m: m.attach("a.txt", "data", "text/plain"),
    "a second alternative": lambda m: m.attach_alternative("x", "text/x-other"),
    "a line over 998 bytes": lambda m: setattr(m, "body", "x" * 2000),
    "a line over 998 bytes in the html": lambda m: (m.alternatives.clear(), m.attach_alternative("é" * 500, "text/html")),
    "a bare carriage return": lambda m: setattr(m, "body", "one\rtwo"),
    "a NUL": lambda m: setattr(m, "body", "one\x00two"),
    "a line break in the subject": lambda m: setattr(m, "subject", "one\ntwo"),
    "a line break in a header": lambda m: m.extra_headers.update({"X-A": "one\r\ntwo"}),
    "an ASCII header too long for a line": lambda m: m.extra_headers.update({"X-A": "a" * 1000}),
    "text that reads as encoded-words": lambda m: setattr(m, "subject", "=?utf-8?b?SGk=?="),
    "To given as a header": lambda m: m.extra_headers.update({"To": "someone@example.org"}),
    "Reply-To given as a header": lambda m: m.extra_headers.update({"Reply-To": "someone@example.org"}),
    "another charset": lambda m: setattr(m, "encoding", "iso-8859-1"),
    "an html body part": lambda m: setattr(m, "content_subtype", "html"),
    "no To": lambda m: setattr(m, "to", []),
    "an empty text part": lambda m: setattr(m, "body", ""),
    "a header name with a space": lambda m: m.extra_headers.update({"X A": "b"}),
}


@pytest.mark.parametrize("shape", OUTSIDE)
def test_every_other_shape_goes_to_djangos_writer(shape):
    message = _other(OUTSIDE[shape])
    try:
        written = message.message()
    except BadHeaderError:
        return  # Django's answer to a line break in a header: refuse it
    assert not isinstance(written, AlternativeMessage)


@pytest.mark.parametrize("shape", ["the fast writer", *OUTSIDE])
def test_the_date_says_utc_as_plus_0000_whichever_writer_writes_it(shape):
    """RFC 5322 3.3: -0000 means "the zone is unknown"; a UTC time is +0000."""
    import datetime as dt
    from email.utils import parsedate_to_datetime

    message = _other(OUTSIDE.get(shape, lambda m: None))
    try:
        written = message.message()
    except BadHeaderError:
        return
    assert isinstance(written, AlternativeMessage) == (shape == "the fast writer")
    date = parse(written.as_bytes())["Date"]
    assert str(date).endswith(" +0000"), date
    when = parsedate_to_datetime(str(date))
    assert when.utcoffset() == dt.timedelta(0)
    assert abs(when - dt.datetime.now(dt.timezone.utc)) < dt.timedelta(minutes=1)


def test_a_date_given_by_the_caller_is_kept():
    message = _other(lambda m: m.extra_headers.update({"Date": "Thu, 19 Mar 2026 07:00:00 +0100"}))
    assert parse(message.message().as_bytes())["Date"] == "Thu, 19 Mar 2026 07:00:00 +0100"
    message.attach("a.txt", "data", "text/plain")  # Django's writer
    assert parse(message.message().as_bytes())["Date"] == "Thu, 19 Mar 2026 07:00:00 +0100"


def test_lines_starting_with_a_dot_arrive_as_they_were_written(smtp_server):
    """Dot-stuffing (RFC 5321 4.5.2) done without smtplib's regex: the SMTP server takes the
    extra dots off again, and the message reads back exactly."""
    from paperpost.mail import TrackingSMTP

    text = ".starts with a dot\nmiddle\n..two dots\n.\nend .\n"
    html = "<style>\n.mj-column { width: 100% }\n</style>\n<p>x</p>"
    message = FastEmail("Dots", text, "digest@example.org", ["reader@example.org"])
    message.attach_alternative(html, "text/html")
    raw = message.message().as_bytes(linesep="\r\n")
    with TrackingSMTP("127.0.0.1", smtp_server.port, timeout=10) as client:
        client.sendmail("digest@example.org", ["reader@example.org"], raw)
    [received] = smtp_server.handler.messages
    assert received.raw.replace(b"\r\n", b"\n") == raw.replace(b"\r\n", b"\n")
    assert received.message.get_body(("plain",)).get_content().replace("\r\n", "\n") == text
    assert ".mj-column" in received.message.get_body(("html",)).get_content()


def test_a_line_is_too_long_from_999_bytes_wherever_it_stands():
    from paperpost.mail import MAX_LINE, lines_fit

    def longest(data: bytes) -> int:
        return max(map(len, data.split(b"\n")))

    around = [b"", b"\n", b"short\n", b"x" * 997 + b"\n", (b"line\r\n" * 300), b"\n" * 1500]
    for length in (0, 1, MAX_LINE - 1, MAX_LINE, MAX_LINE + 1, MAX_LINE + 2, 2 * MAX_LINE + 1, 5000):
        for before, after in itertools.product(around, around):
            for line in (b"a" * length, b"a" * (length - 1) + b"\r" if length else b""):
                data = before + line + after
                assert lines_fit(data) == (longest(data) <= MAX_LINE), (len(before), length, len(after))


def test_the_envelope_commands_are_smtplibs_own(smtp_server):
    """TrackingSMTP writes MAIL and RCPT itself (the sender parsed once): the same commands
    as smtplib, with the options sendmail() adds (SIZE) and those given."""
    import smtplib

    from paperpost.mail import TrackingSMTP

    message = FastEmail("Envelope", "text\n", "digest@example.org", ["reader@example.org"])
    message.attach_alternative("<p>x</p>", "text/html")
    raw = message.message().as_bytes(linesep="\r\n")
    commands = {}
    for client_class in (smtplib.SMTP, TrackingSMTP):
        sent = commands[client_class] = []

        class Recording(client_class):
            def putcmd(self, cmd, args=""):
                sent.append((cmd, args))
                super().putcmd(cmd, args)

        with Recording("127.0.0.1", smtp_server.port, timeout=10) as client:
            for sender in ("digest@example.org", "Paperpost <digest@example.org>", '"Doe, J." <j@example.org>'):
                client.sendmail(sender, ["reader@example.org", "Zoë <z@example.org>"], raw)
                client.sendmail(sender, ["reader@example.org"], raw, mail_options=["BODY=8BITMIME"])
    assert commands[TrackingSMTP] == commands[smtplib.SMTP]
    assert ("mail", f"FROM:<j@example.org> size={len(raw)} BODY=8BITMIME") in commands[TrackingSMTP]
    assert len(smtp_server.handler.messages) == 12
