"""Every email Paperpost sends is built here.

make_message() renders one message kind from templates/emails/<name>.mjml (compiled once per
process with mjml-python, then filled per recipient as a Django template) or <name>.html,
plus <name>.txt for the text/plain part, which every message has. The digest adds its
list headers and per-paper blocks; a paper's block is rendered once per process and reused
for every subscriber who gets that paper."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from collections import Counter
from dataclasses import dataclass
from email.utils import parseaddr
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.template import engines
from django.template.loader import get_template
from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from mjml import mjml2html

from digest.matching import Match
from digest.models import Paper
from digest.selection import topic_tags
from digest.text import shorten
from paperpost.mail import FastEmail

from . import why
from .tokens import make_delivery_token, make_token

TEMPLATE_DIR = Path(settings.BASE_DIR) / "templates" / "emails"
WHY_SLOT = "\x00why\x00"
# Digests with more papers than this show half-length abstracts.
SHORT_ABSTRACTS_AFTER = 20
# Lines over 998 bytes force quoted-printable (RFC 5322 line limit); breaking the compiled
# boilerplate after closing tags keeps every line short so bodies go out as plain 8bit.
_BREAK_AFTER = re.compile(r"(</(?:td|tr|table|tbody|div|p|style|head)>|<!\[endif\]-->|<br ?/?>)")


def absolute(path: str) -> str:
    return settings.SITE_URL + path


def _wrap_lines(html: str) -> str:
    return _BREAK_AFTER.sub(lambda m: m.group(0) + "\n", html).replace("\n\n", "\n")


@lru_cache(maxsize=None)
def compiled_mjml(name: str):
    """The Django template made from emails/<name>.mjml; compiled once per process."""
    source = (TEMPLATE_DIR / f"{name}.mjml").read_text(encoding="utf-8")
    html = mjml2html(source, disable_comments=True)
    return engines["django"].from_string(_wrap_lines(html))


def render_html(name: str, context: dict) -> str:
    if (TEMPLATE_DIR / f"{name}.mjml").exists():
        return compiled_mjml(name).render(context)
    return get_template(f"emails/{name}.html").render(context)


# --- Frames filled per subscriber -------------------------------------------------------------


@lru_cache(maxsize=None)
def frame(name: str, kind: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A template with variables only (no tags), rendered once with a marker in place of
    each variable and split there: filling it per subscriber is then a string join.
    kind is "html" (the MJML, compiled once) or "txt"."""
    source = (TEMPLATE_DIR / f"{name}.{'mjml' if kind == 'html' else 'txt'}").read_text(encoding="utf-8")
    names = tuple(dict.fromkeys(re.findall(r"{{\s*(\w+)\s*}}", source)))
    if "{%" in source.replace("{% autoescape off %}", "").replace("{% endautoescape %}", ""):
        raise ValueError(f"emails/{name}.{kind} must hold variables only, to be filled fast")
    marks = {n: mark_safe(f"\x00{n}\x00") for n in names}
    rendered = compiled_mjml(name).render(marks) if kind == "html" else engines["django"].from_string(source).render(marks)
    pieces = re.split(r"\x00(\w+)\x00", rendered)
    return tuple(pieces[0::2]), tuple(pieces[1::2])


def fill(name: str, kind: str, context: dict) -> str:
    """Fill a frame; in HTML, values are escaped unless they are SafeStrings."""
    statics, names = frame(name, kind)
    out = [statics[0]]
    for variable, static in zip(names, statics[1:]):
        value = context.get(variable, "")
        if kind == "html" and not isinstance(value, SafeString):
            value = escape(value)
        out.append(str(value))
        out.append(static)
    return "".join(out)


def make_message(
    name: str,
    to: str,
    subject: str,
    context: dict,
    headers: dict[str, str] | None = None,
) -> FastEmail:
    context = {**context, "subject": subject}
    text = get_template(f"emails/{name}.txt").render(context)
    html = render_html(name, context)
    message = FastEmail(
        subject=" ".join(subject.split()),  # never a CR/LF in a header
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        headers=headers or {},
    )
    message.attach_alternative(html, "text/html")
    return message


def list_headers(unsubscribe_url: str) -> dict[str, str]:
    """The headers of mail to a subscriber: one-click unsubscribe (RFC 2369, RFC 8058) and
    the list's identity (RFC 2919)."""
    return {
        "List-Unsubscribe": f"<{unsubscribe_url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "List-Id": settings.LIST_ID,
    }


def unsubscribe_line(unsubscribe_url: str) -> dict[str, str]:
    """The unsubscribe link at the foot of a notice (emails/_unsubscribe.*), for its two parts."""
    context = {"url": unsubscribe_url}
    return {
        "unsubscribe_html": mark_safe(get_template("emails/_unsubscribe.html").render(context).rstrip("\n")),
        "unsubscribe_text": get_template("emails/_unsubscribe.txt").render(context).rstrip("\n"),
    }


# --- The digest -----------------------------------------------------------------------


def paper_url(paper: Paper) -> str:
    return paper.abs_url or absolute(paper.get_absolute_url())


def paper_links(paper: Paper) -> list[tuple[str, str]]:
    links = []
    if paper.pdf_url:
        links.append(("PDF", paper.pdf_url))
    if paper.code_url:
        links.append(("Code", paper.code_url))
    if paper.project_url:
        links.append(("Project", paper.project_url))
    return links


@dataclass
class PaperView:
    """What an email shows of one paper; the same for every subscriber."""

    id: int
    title: str
    url: str
    authors: str
    abstract: str
    links: list[tuple[str, str]]
    signal: str
    discuss_url: str
    topics: list[tuple[str, str]]  # (name, topic page) of the topics the paper matches
    head: SafeString
    tail: SafeString
    text_head: str
    text_tail: str
    shown: str = ""  # the abstract as shown, folded: a Why word outside it gets a snippet

    @classmethod
    def of(cls, paper: Paper, short: bool = False, topics=()) -> PaperView:
        # Long digests get shorter abstracts, so that 50 papers stay under Gmail's 102 KB.
        limit = settings.DIGEST_ABSTRACT_CHARS // 2 if short else settings.DIGEST_ABSTRACT_CHARS
        view = {
            "title": " ".join(paper.title.split()),
            "url": paper_url(paper),
            "authors": paper.author_line,
            "abstract": shorten(paper.abstract, limit),
            "links": paper_links(paper),
            # The community's counts as they were when the edition was built.
            "signal": paper.signal_line,
            "discuss_url": absolute(paper.get_absolute_url()) + "#discussion",
            # Long digests leave the tags out, as they shorten abstracts (Gmail's 102 KB).
            "topics": [] if short else [(t.name, absolute(t.get_absolute_url())) for t in topics],
        }
        # Rendered once per paper; the subscriber's "why" and feedback links go in the slot.
        block = get_template("emails/_paper.html").render({"p": view, "why_slot": WHY_SLOT})
        head, _, tail = block.partition(WHY_SLOT)
        text = get_template("emails/_paper.txt").render({"p": view, "why_slot": WHY_SLOT})
        text_head, _, text_tail = text.partition(WHY_SLOT)
        return cls(id=paper.pk, head=mark_safe(head), tail=mark_safe(tail), text_head=text_head,
                   text_tail=text_tail, shown=view["abstract"].casefold(), **view)


class PaperViews:
    """The email blocks of a period's papers (digest.selection.PeriodContent.papers), each
    rendered once and reused for every subscriber who gets that paper."""

    def __init__(self, papers: dict[int, Paper]):
        self.papers = papers
        self._views: dict[tuple[int, bool], PaperView] = {}
        self._tags: dict[int, list] | None = None

    def view(self, paper_id: int, short: bool = False) -> PaperView:
        view = self._views.get((paper_id, short))
        if view is None:
            if self._tags is None:  # the topic tags of every paper of the period, at once
                self._tags = topic_tags(self.papers.values())
            view = self._views[(paper_id, short)] = PaperView.of(
                self.papers[paper_id], short=short, topics=self._tags.get(paper_id, []))
        return view


def message_id_for(edition_id: int, delivery_id: int) -> str:
    """The same Message-ID every time a delivery is (re)tried, so that a resend after an
    unknown outcome is recognised by the receiving side as the same message."""
    domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "localhost"
    tag = hmac.new(settings.SECRET_KEY.encode(), f"{edition_id}.{delivery_id}".encode(), hashlib.sha256)
    return f"<digest.{edition_id}.{delivery_id}.{tag.hexdigest()[:12]}@{domain}>"


def top_labels(matches: list[Match], limit: int = 2) -> list[str]:
    counts: Counter[str] = Counter()
    for m in matches:
        for r in m.reasons:
            counts[r.label] += 1
    return [label for label, _ in counts.most_common(limit)]


def digest_subject(count: int, labels: list[str], extra_labels: int, date: dt.date) -> str:
    """E.g. "7 papers on Diffusion models, LoRA & PEFT +2 · Thu 19 Mar"."""
    noun = "paper" if count == 1 else "papers"
    on = ""
    if labels:
        on = " on " + ", ".join(labels)
        if extra_labels > 0:
            on += f" +{extra_labels}"
    return f"{count} {noun}{on} · {date:%a %-d %b}"


def interests_line(subscriber, topics=None) -> str:
    parts = [t.name for t in (topics if topics is not None else subscriber.topics.all())]
    parts += [k.strip() for k in subscriber.keywords.split(",") if k.strip() and not k.strip().startswith("-")]
    parts += [c.strip() for c in subscriber.categories.split(",") if c.strip()]
    if len(parts) > 6:
        parts = parts[:6] + ["more"]
    return ", ".join(parts)


def digest_message(
    *,
    subscriber,
    edition,
    delivery_id: int,
    chosen: list[tuple[PaperView, Match]],
    more_count: int = 0,
) -> FastEmail:
    date = edition.end_date
    manage_token = make_token(subscriber, "manage")
    unsubscribe_url = absolute(reverse("unsubscribe", args=[make_token(subscriber, "unsubscribe")]))
    manage_url = absolute(reverse("manage", args=[manage_token]))
    # Feedback links differ only by action and id: reverse once, then fill in.
    feedback_base = absolute(reverse("feedback", args=[make_token(subscriber, "feedback"), "more", 0]))[: -len("more/0/")]
    # "Upvote" votes without signing in: one token for this email, valid for its papers only.
    upvote_base = absolute(reverse("email_vote", args=[make_delivery_token(subscriber, delivery_id, "upvote"), 0]))[:-2]
    matches = [m for _, m in chosen]
    # A subscriber who chose no interest gets the community's top papers (digest.selection),
    # after any close to what they liked.
    top = any(r.kind == "community" for m in matches for r in m.reasons)
    all_labels = top_labels(matches, limit=100)
    subject = digest_subject(len(chosen), all_labels[:2], len(all_labels) - 2, date)
    if top:
        period = "of the week " if edition.frequency == "weekly" else ""
        subject = f"The community's top {len(chosen)} paper{'s' if len(chosen) != 1 else ''} {period}· {date:%a %-d %b}"
    topics = list(subscriber.topics.all())
    topic_ids = {t.name: t.pk for t in topics}
    html_parts: list[str] = []
    text_parts: list[str] = []
    for rank, (view, m) in enumerate(chosen, start=1):
        actions = [("Upvote", f"{upvote_base}{view.id}/"),
                   ("More like this", f"{feedback_base}more/{view.id}/"),
                   ("Fewer like this", f"{feedback_base}fewer/{view.id}/"),
                   ("Not interested", f"{feedback_base}not/{view.id}/")]
        for reason in m.reasons:
            if reason.kind == "topic" and reason.label in topic_ids:
                actions.append((f"Mute {reason.label}", f"{feedback_base}mute/{topic_ids[reason.label]}/"))
        # The URLs hold only our host, a signed token ([A-Za-z0-9_:-]) and digits: nothing to escape.
        links_html = " &middot;\n".join(
            f'<a href="{url}" style="color:#57606a">{_escaped(label)}</a>' for label, url in actions
        )
        # A top paper's counts are its reason (in the paper's block); other picks say why.
        community = all(r.kind == "community" for r in m.reasons)
        why_html = "" if community else (f'<div style="font-size:13px;color:#1a7f37;margin:4px 0">Why: '
                                         f'{why.why_html(m.reasons, view.shown)}</div>\n')
        html_parts += [
            view.head,
            f'{why_html}<div style="font-size:12px;margin:2px 0 4px">{links_html}</div>\n',
            view.tail,
        ]
        text_parts += ["\n", f"{rank}. ", view.text_head,
                       "" if community else f"   Why: {why.why_text(m.reasons, view.shown)}\n"]
        # The text part carries one link per paper to a page with every choice (more, fewer,
        # not interested, mute a topic): a line of URLs per choice made plain-text digests unreadable.
        text_parts += [f"   Upvote: {actions[0][1]}\n", f"   More or fewer like this: {feedback_base}{view.id}/\n"]
        text_parts.append(view.text_tail)
    if edition.frequency == "weekly":
        date_label = f"week ending {date:%A %-d %B %Y}"
        heading = f"Your week in papers: {len(chosen)} picked for you"
    else:
        date_label = f"{date:%A %-d %B %Y}"
        heading = f"{len(chosen)} paper{'s' if len(chosen) != 1 else ''} picked for you"
    intro = "Matched to your interests: " + (", ".join(all_labels[:6]) or "your topics") + "."
    if top:
        heading = "The community's top papers" + (" of the week" if edition.frequency == "weekly" else "")
        first = ("first the papers close to ones you liked, then " if any(r.kind != "community" for m in matches
                                                                           for r in m.reasons) else "")
        intro = (f"You chose no topics, so here are {first}the papers readers voted up most. Choose topics or "
                 "keywords in your preferences to get papers picked for you.")
    more_url = absolute(reverse("edition_matches", args=[manage_token, edition.pk])) if more_count else ""
    plural = "s" if more_count != 1 else ""
    line = interests_line(subscriber, topics)
    context = {
        "subject": subject,
        "heading": heading,
        "date_label": date_label,
        "intro": intro,
        "preheader": " · ".join(v.title for v, _ in chosen[:3])[:140],
        "papers_html": mark_safe("".join(html_parts)),
        "papers_text": "".join(text_parts),
        "more_html": mark_safe(
            f'\n<p style="margin:14px 0 0"><a href="{more_url}" style="color:#0b57d0">{more_count} more matching '
            f"paper{plural} on the web</a></p>") if more_count else "",
        "more_text": f"\n{more_count} more matching paper{plural}: {more_url}\n" if more_count else "",
        "email": subscriber.email,
        "interests_clause": f" for {line}" if line else "",
        "manage_url": manage_url,
        "unsubscribe_url": unsubscribe_url,
    }
    headers = digest_headers(unsubscribe_url, edition.pk, delivery_id)
    message = FastEmail(
        subject=" ".join(subject.split()),  # never a CR/LF in a header
        body=fill("digest", "txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[subscriber.email],
        headers=headers,
    )
    message.attach_alternative(fill("digest", "html", context), "text/html")
    return message


def digest_headers(unsubscribe_url: str, edition_id: int, delivery_id: int) -> dict[str, str]:
    """A digest's (or quiet-day note's) headers: the list's, no auto-replies, its own Message-ID."""
    return {
        **list_headers(unsubscribe_url),
        "Auto-Submitted": "auto-generated",
        "X-Auto-Response-Suppress": "OOF, AutoReply",
        "Precedence": "bulk",
        "Message-ID": message_id_for(edition_id, delivery_id),
    }


def quiet_message(*, subscriber, edition, delivery_id: int) -> FastEmail:
    """The one-line "nothing strong today" email, for subscribers who asked for it on days
    when nothing cleared their floor (the digest's frame with no papers)."""
    date = edition.end_date
    manage_url = absolute(reverse("manage", args=[make_token(subscriber, "manage")]))
    unsubscribe_url = absolute(reverse("unsubscribe", args=[make_token(subscriber, "unsubscribe")]))
    period = "this week" if edition.frequency == "weekly" else "today"
    subject = f"Nothing strong {period} · {date:%a %-d %b}"
    line = interests_line(subscriber)
    context = {
        "subject": subject,
        "heading": f"Nothing strong {period}",
        "date_label": f"{date:%A %-d %B %Y}",
        "intro": (f"No paper cleared your bar ({subscriber.strictness or 'balanced'}), so no "
                  "digest. You get this line because you asked for it on quiet days."),
        "preheader": "No paper cleared your bar.",
        "papers_html": "", "papers_text": "", "more_html": "", "more_text": "",
        "email": subscriber.email,
        "interests_clause": f" for {line}" if line else "",
        "manage_url": manage_url,
        "unsubscribe_url": unsubscribe_url,
    }
    message = FastEmail(subject=subject, body=fill("digest", "txt", context), from_email=settings.DEFAULT_FROM_EMAIL,
                        to=[subscriber.email], headers=digest_headers(unsubscribe_url, edition.pk, delivery_id))
    message.attach_alternative(fill("digest", "html", context), "text/html")
    return message


@lru_cache(maxsize=4096)
def _escaped(text: str) -> str:
    return escape(text)
