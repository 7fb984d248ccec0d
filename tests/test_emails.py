"""The digest email: parsed with Python's email package, as a mail client would."""

import email
import re
from email import policy

import pytest
from django.core import mail

from subscribers.delivery import build_edition
from subscribers.sending import content_for
from subscribers.emails import Digest, EditionInfo, Recipient, digest_message, digest_subject, message_id_for
from subscribers.frames import compiled_mjml
from digest.models import Paper
from subscribers.models import Delivery, Edition

GMAIL_CLIP_BYTES = 102 * 1024


def parse(message):
    return email.message_from_bytes(message.message().as_bytes(), policy=policy.default)


def build(subscriber, batch, cap=10):
    edition = Edition.objects.create(start_date=batch.date, end_date=batch.date)
    found = content_for(edition)
    matches = found.content.match(subscriber.interests())
    chosen = [(found.views.view(m.paper_id, short=cap > 20), m) for m in matches[:cap]]
    return edition, matches, digest_message(Digest(
        Recipient.of(subscriber), EditionInfo.of(edition), delivery_id=7, papers=chosen, more=max(0, len(matches) - cap),
    ))


@pytest.mark.django_db
def test_the_digest_is_multipart_alternative_with_both_parts(batch, make_subscriber):
    subscriber = make_subscriber(topics=["lora-peft"])
    _, matches, message = build(subscriber, batch)
    parsed = parse(message)
    assert parsed.get_content_type() == "multipart/alternative"
    text = parsed.get_body(("plain",)).get_content()
    html = parsed.get_body(("html",)).get_content()
    assert text.strip() and html.strip()
    assert "LoLDU: Low-Rank Adaptation" in text and "LoLDU: Low-Rank Adaptation" in html
    assert "<" not in text.replace("<http", "")  # the text part is text, not markup
    assert "{%" not in html and "{{" not in html


@pytest.mark.django_db
def test_every_list_header_is_present_once(batch, make_subscriber, settings):
    subscriber = make_subscriber(topics=["lora-peft"])
    edition, _, message = build(subscriber, batch)
    parsed = parse(message)
    for name in ("List-Unsubscribe", "List-Unsubscribe-Post", "List-Id", "Auto-Submitted", "Message-ID", "Subject", "Date", "From", "To"):
        assert len(parsed.get_all(name) or []) == 1, name
    unsubscribe = parsed["List-Unsubscribe"].strip()  # long values are folded onto a new line
    assert unsubscribe.startswith("<" + settings.SITE_URL) and unsubscribe.endswith("/unsubscribe/>")
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert parsed["Message-ID"] == message_id_for(edition.pk, 7)


@pytest.mark.django_db
def test_list_unsubscribe_is_https_in_production(batch, make_subscriber, settings):
    settings.SITE_URL = "https://papers.example.org"
    subscriber = make_subscriber(topics=["lora-peft"])
    _, _, message = build(subscriber, batch)
    assert parse(message)["List-Unsubscribe"].strip().startswith("<https://papers.example.org/u/")


@pytest.mark.django_db
def test_the_message_id_is_stable_across_retries(batch):
    assert message_id_for(3, 42) == message_id_for(3, 42)
    assert message_id_for(3, 42) != message_id_for(3, 43)


@pytest.mark.django_db
def test_the_subject_names_count_topics_and_date(batch, make_subscriber):
    subscriber = make_subscriber(topics=["lora-peft", "unlearning"])
    _, matches, message = build(subscriber, batch)
    subject = parse(message)["Subject"].strip()  # long non-ASCII subjects fold onto a new line
    assert subject.startswith(f"{min(10, len(matches))} papers on ")
    assert "LoRA & parameter-efficient fine-tuning" in subject
    assert subject.endswith("Thu 19 Mar")
    assert digest_subject(1, ["Graphs"], 0, batch.date) == "1 paper on Graphs · Thu 19 Mar"


@pytest.mark.django_db
def test_each_paper_shows_title_link_abstract_code_and_why(batch, make_subscriber):
    # Plain links, to read the targets here; counted links lead to the same (test_clicks.py).
    subscriber = make_subscriber(topics=["lora-peft"], plain_links=True)
    _, _, message = build(subscriber, batch)
    parsed = parse(message)
    html = parsed.get_body(("html",)).get_content()
    text = parsed.get_body(("plain",)).get_content()
    assert 'href="https://github.com/SKDDJ/LoLDU"' in html
    assert "Code: https://github.com/SKDDJ/LoLDU" in text
    assert html.count("Why: LoRA &amp; parameter-efficient fine-tuning") >= 1
    assert "Why: LoRA & parameter-efficient fine-tuning: “" in text
    assert "/paper/title:loldu-low-rank-adaptation" in html
    # Each paper's topic tags, linking to the topic pages (every topic it matches, not only
    # the reader's).
    assert 'href="http://127.0.0.1:8000/topics/lora-peft/"' in html and "   Topics: " in text


@pytest.mark.django_db
def test_authors_show_when_known(batch, make_subscriber):
    from digest.models import Paper

    paper = Paper.objects.get(title__startswith="LoLDU")
    paper.authors = ["Yiming Shi", "Jiwei Wei"]
    paper.save()
    _, _, message = build(make_subscriber(topics=["lora-peft"]), batch)
    assert "Yiming Shi, Jiwei Wei" in parse(message).get_body(("plain",)).get_content()


@pytest.mark.django_db
def test_html_stays_under_gmail_clipping_for_50_papers(batch, make_subscriber, settings):
    # Common words and a broad floor, for a long email (next to each other, broad keywords
    # weigh less: Weights.topic_broad). Five words of no one subject: the keywords' sense
    # check (Weights.keyword_sense_keep) would keep few of their papers, so it is off here.
    settings.MATCH_WEIGHTS = {**settings.MATCH_WEIGHTS, "keyword_sense_keep": 1.0}
    subscriber = make_subscriber(keywords="model, learning, training, data, language", strictness="broad",
                                 max_papers=50)
    _, matches, message = build(subscriber, batch, cap=50)
    assert len(matches) >= 50
    html = parse(message).get_body(("html",)).get_content()
    assert html.count("Why: ") == 50
    assert len(html.encode()) < GMAIL_CLIP_BYTES


@pytest.mark.django_db
def test_hostile_titles_are_escaped(batch, make_subscriber):
    from digest.models import Paper

    paper = Paper.objects.get(title__startswith="LoLDU")
    paper.title = 'LoLDU <script>alert(1)</script> "quoted" & more'
    paper.save()
    _, _, message = build(make_subscriber(topics=["lora-peft"]), batch)
    html = parse(message).get_body(("html",)).get_content()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_the_mjml_template_is_compiled_once():
    compiled_mjml.cache_clear()
    compiled_mjml("digest")
    compiled_mjml("digest")
    assert compiled_mjml.cache_info().misses == 1
    assert compiled_mjml.cache_info().hits == 1


@pytest.mark.django_db
def test_lines_stay_short_so_bodies_go_out_8bit(batch, make_subscriber):
    _, _, message = build(make_subscriber(topics=["lora-peft"]), batch)
    raw = message.message().as_bytes()
    assert b"quoted-printable" not in raw
    assert max(len(line) for line in raw.split(b"\n")) <= 998


@pytest.mark.django_db
def test_sending_in_process_delivers_to_the_locmem_outbox(batch, make_subscriber, django_capture_on_commit_callbacks):
    """Unit-level wiring check (in-process tasks); the real worker path is in test_integration."""
    make_subscriber("a@example.org", topics=["lora-peft"])
    make_subscriber("nobody@example.org", keywords="quantum chromodynamics")
    with django_capture_on_commit_callbacks(execute=True):
        edition, added = build_edition(batch)
    assert added == 2
    assert [m.to for m in mail.outbox] == [["a@example.org"]]
    statuses = dict(Delivery.objects.values_list("subscriber__email", "status"))
    assert statuses == {"a@example.org": "sent", "nobody@example.org": "skipped"}
    edition.refresh_from_db()
    assert edition.status == Edition.Status.DONE


@pytest.mark.django_db
def test_the_fast_writer_matches_what_the_email_package_reads(batch, make_subscriber):
    """The digest's bytes come from paperpost.mail; parse them back with the standard
    library, CRLF and all, as an SMTP server would receive them."""
    subscriber = make_subscriber(topics=["lora-peft"])
    _, _, message = build(subscriber, batch)
    raw = message.message().as_bytes(linesep="\r\n")
    assert b"\r\r" not in raw and b"\n\n" not in raw.replace(b"\r\n", b"")
    parsed = email.message_from_bytes(raw, policy=policy.default)
    assert parsed["Message-ID"] == message.extra_headers["Message-ID"]
    assert parsed["Subject"] == message.subject
    assert parsed.get_body(("plain",)).get_content().replace("\r\n", "\n").strip() == message.body.strip()
    assert parsed.get_body(("html",)).get_content().replace("\r\n", "\n").strip() == message.alternatives[0][0].strip()
    assert not parsed.defects and all(not p.defects for p in parsed.walk())


def test_the_fast_writer_falls_back_for_anything_else():
    from paperpost.mail import AlternativeMessage, FastEmail

    plain = FastEmail("Hi", "body", "a@example.org", ["b@example.org"])
    plain.attach_alternative("<p>x</p>", "text/html")
    assert isinstance(plain.message(), AlternativeMessage)
    long_line = FastEmail("Hi", "x" * 2000, "a@example.org", ["b@example.org"])
    long_line.attach_alternative("<p>x</p>", "text/html")
    assert not isinstance(long_line.message(), AlternativeMessage)
    assert b"quoted-printable" in long_line.message().as_bytes()
    with_file = FastEmail("Hi", "body", "a@example.org", ["b@example.org"])
    with_file.attach_alternative("<p>x</p>", "text/html")
    with_file.attach("a.txt", "data", "text/plain")
    assert not isinstance(with_file.message(), AlternativeMessage)
    accents = FastEmail("Café ☕", "body", "Jürgen <j@example.org>", ["b@example.org"])
    accents.attach_alternative("<p>x</p>", "text/html")
    parsed = email.message_from_bytes(accents.message().as_bytes(linesep="\r\n"), policy=policy.default)
    assert parsed["Subject"] == "Café ☕" and parsed["From"].addresses[0].display_name == "Jürgen"


@pytest.mark.django_db
def test_the_text_part_keeps_its_layout_around_the_partials(batch, make_subscriber):
    """The per-subscriber pieces (_pick, _why, _more) are joined into the text part line by
    line: the upvote link and the feedback choices page one per line, the "more" link set
    apart before the footer; topic mutes are on the choices page, not in the text."""
    _, matches, message = build(make_subscriber(topics=["lora-peft"]), batch, cap=2)
    text = message.body
    assert len(matches) > 2
    first = Paper.objects.get(pk=matches[0].paper_id).title  # a LoRA paper (the order: docs/ranking.md)
    assert "LoRA" in first or "Low-Rank" in first
    assert re.search(rf"\n\n1\. {re.escape(first[:30])}[^\n]*\n", text)
    assert re.search(r"\n   Why: [^\n]+\n   Upvote: \S+/\d+/\n   More or fewer like this: \S+/\d+/\n", text)
    assert "Mute " not in text and "Mute LoRA" in message.alternatives[0][0]
    assert re.search(rf"\n\n{len(matches) - 2} more matching papers: \S+/edition/\d+/\n\n--\n", text)


def test_a_frame_holds_plain_variables_only(tmp_path, monkeypatch):
    from subscribers import frames

    monkeypatch.setattr(frames, "TEMPLATE_DIR", tmp_path)
    (tmp_path / "_loop.txt").write_text("{% for x in y %}{{ x }}{% endfor %}\n")
    (tmp_path / "_filter.txt").write_text("{{ x|upper }}\n")
    (tmp_path / "_fine.html").write_text("<b>{{ x }}</b>\n")
    for name in ("_loop.txt", "_filter.txt"):
        with pytest.raises(ValueError, match="variables only|plain variables"):
            frames.frame(name)
    assert frames.fill("_fine.html", {"x": "<i>"}) == "<b>&lt;i&gt;</b>"  # escaped, no final line break


@pytest.mark.django_db
def test_long_abstracts_are_folded_so_the_parts_stay_8bit(batch, make_subscriber, settings):
    # An operator who shows whole abstracts (DIGEST_ABSTRACT_CHARS raised) must not push the
    # parts into quoted-printable: a line over 998 bytes did, at several times the CPU.
    settings.DIGEST_ABSTRACT_CHARS = 3000
    _, matches, message = build(make_subscriber(topics=["lora-peft"]), batch)
    raw = message.message().as_bytes()
    assert b"quoted-printable" not in raw
    assert max(len(line) for line in raw.split(b"\n")) <= 998
    parsed = parse(message)
    html = " ".join(parsed.get_body(("html",)).get_content().split())
    text = " ".join(parsed.get_body(("plain",)).get_content().split())
    from digest.models import Paper

    longest = max((Paper.objects.get(pk=m.paper_id) for m in matches[:10]), key=lambda p: len(p.abstract))
    assert len(longest.abstract) > 1000
    words = " ".join(longest.abstract.split())
    assert words in text and words[:300] in html  # the HTML escapes quotes and ampersands


def test_folding_breaks_only_long_lines_at_spaces():
    from subscribers.emails import fold_long_lines

    short = "a short line\nand another"
    assert fold_long_lines(short) is short
    long = " ".join(["word"] * 400)  # 1,999 characters
    folded = fold_long_lines(long)
    assert folded.replace("\n", " ") == long and max(map(len, folded.split("\n"))) <= 900
    assert fold_long_lines("x" * 2000) == "x" * 2000  # no space to break at
    accented = " ".join(["déjà"] * 400)
    assert all(len(line.encode()) <= 900 for line in fold_long_lines(accented).split("\n"))
