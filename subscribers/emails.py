"""Every email Paperpost sends is built here, by build_message().

A kind of message is two templates in templates/emails/: <name>.mjml, compiled to HTML once
per process by mjml-python, and <name>.txt, the text/plain part every message has. Both are
*frames* (subscribers/frames.py): variables only, filled per recipient by one %-format.

The digest fills its frame with pieces that are templates too: a paper's block
(_paper.html/_paper.txt, rendered once per paper and reused for every subscriber who gets
it), and per subscriber the frames around it: _pick (rank, why, upvote and feedback links),
_why_line (the reason, from subscribers/why.py; left out for the community's top papers),
_mute (a "mute this topic" link, HTML only: the text part links to the feedback choices
page) and _more (the "N more" link).

What an email shows comes in as plain data (Digest, Recipient, EditionInfo, PaperView), never
as ORM objects, so a preview of made-up interests is built the same way as a real digest."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import uuid
from collections import Counter
from dataclasses import dataclass
from email.utils import parseaddr
from functools import cached_property, lru_cache

from django.conf import settings
from django.template.loader import get_template
from django.urls import get_script_prefix, reverse
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from digest.matching import Match, Reason
from digest.models import Paper
from digest.selection import topic_tags
from digest.text import shorten
from paperpost.mail import FastEmail

from . import why
from .frames import bound, fill, fill_bound, fill_safe
from .models import Feedback, Frequency
from .tokens import ClickTokens, make_delivery_token, make_token

WHY_SLOT = "\x00why\x00"
# Digests with more papers than this show half-length abstracts.
SHORT_ABSTRACTS_AFTER = 20


def absolute(path: str) -> str:
    return settings.SITE_URL + path


_SLOT = "TOKENSLOT"


@lru_cache(maxsize=64)
def _around(name: str, rest: tuple, site_url: str, script_prefix: str) -> tuple[str, str]:
    before, _, after = reverse(name, args=[_SLOT, *rest]).partition(_SLOT)
    return site_url + before, after


def link(name: str, token: str, *rest) -> str:
    """absolute(reverse(name, args=[token, *rest])) for a signed token ([A-Za-z0-9_:.-], nothing
    to quote), with the route reversed once per process: a digest has four such links, and
    reverse() was a tenth of the time it took to build one."""
    before, after = _around(name, rest, settings.SITE_URL, get_script_prefix())
    return before + token + after


def build_message(name: str, to: str, subject: str, context: dict,
                  headers: dict[str, str] | None = None) -> FastEmail:
    """Every email: emails/<name>.txt and emails/<name>.mjml filled with `context`."""
    context = {**context, "subject": subject}
    message = FastEmail(
        subject=" ".join(subject.split()),  # never a CR/LF in a header
        body=fill(f"{name}.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        headers=headers or {},
    )
    message.attach_alternative(fill(f"{name}.mjml", context), "text/html")
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
    """The unsubscribe link at the foot of a notice (the partials emails/_unsubscribe.*), for
    its two parts."""
    context = {"url": unsubscribe_url}
    return {"unsubscribe_html": mark_safe(fill("_unsubscribe.html", context)),
            "unsubscribe_text": fill("_unsubscribe.txt", context)}


# --- What a digest shows, as plain data ---------------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    """Who a digest goes to, as far as the email is concerned."""

    email: str
    uid: uuid.UUID  # what the signed links are made from (subscribers.tokens)
    topics: tuple[tuple[str, int], ...] = ()  # (name, id) of the topics they follow
    keywords: str = ""
    categories: str = ""
    plain_links: bool = False  # links straight to the papers, no /r/ click counting

    @classmethod
    def of(cls, subscriber) -> Recipient:
        return cls(
            email=subscriber.email,
            uid=subscriber.uid,
            topics=tuple((t.name, t.pk) for t in subscriber.related("topics")),
            keywords=subscriber.keywords,
            categories=subscriber.categories,
            plain_links=subscriber.plain_links,
        )

    def interests_line(self) -> str:
        parts = [name for name, _ in self.topics]
        parts += [k.strip() for k in self.keywords.split(",") if k.strip() and not k.strip().startswith("-")]
        parts += [c.strip() for c in self.categories.split(",") if c.strip()]
        if len(parts) > 6:
            parts = parts[:6] + ["more"]
        return ", ".join(parts)


@dataclass(frozen=True)
class EditionInfo:
    id: int
    frequency: str
    date: dt.date  # the last day it covers

    @classmethod
    def of(cls, edition) -> EditionInfo:
        return cls(id=edition.pk, frequency=edition.frequency, date=edition.end_date)


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


def paper_targets(paper: Paper) -> tuple[str, ...]:
    """Where a paper's links in an email lead, in order: the paper, then PDF, code, project.
    A click link (/r/<token>/) names one of these by its number."""
    return (paper_url(paper), *(url for _, url in paper_links(paper)))


# The paper's links are rendered as these markers, which become the fields link0..link3 of
# the paper's pick (PaperView.picks), filled per subscriber.
LINK_SLOTS = tuple(f"\x00link{n}\x00" for n in range(4))
LINK_FIELDS = tuple(f"link{n}" for n in range(4))
# And the bases of the feedback links (digest_message), the fields feedback and upvote.
FEEDBACK_SLOT, UPVOTE_SLOT = "\x00feedback\x00", "\x00upvote\x00"


# A line over 998 bytes sends the whole part through quoted-printable (RFC 5322's limit;
# paperpost.mail), several times the CPU of 8bit: an abstract longer than about 900
# characters (DIGEST_ABSTRACT_CHARS raised) made such a line. Folding at a space is invisible
# in HTML, where a line break is a space, and is the usual wrap in the text part.
FOLD_AT = 900


def fold_long_lines(text: str, limit: int = FOLD_AT) -> str:
    """`text` with every line longer than `limit` bytes (UTF-8) broken at spaces (a line with
    no space early enough is left as it is)."""
    lines = text.split("\n")
    if all(len(line) <= limit // 4 or len(line.encode()) <= limit for line in lines):
        return text
    out = []
    for line in lines:
        while len(line.encode()) > limit:
            # Characters up to `limit` are at most `limit` bytes when ASCII; else a third.
            cut = line.rfind(" ", 0, limit if line.isascii() else limit // 3)
            if cut <= 0:
                break
            out.append(line[:cut])
            line = line[cut + 1:]
        out.append(line)
    return "\n".join(out)


@dataclass
class PaperView:
    """What an email shows of one paper; the same for every subscriber but for its links."""

    id: int
    title: str
    authors: str
    abstract: str
    labels: list[str]  # of the links after the paper's own: PDF, Code, Project
    targets: tuple[str, ...]  # paper_targets()
    head: SafeString
    tail: SafeString
    text_head: str
    text_tail: str
    shown: str = ""  # the abstract as shown, folded: a Why word outside it gets a snippet

    @classmethod
    def of(cls, paper: Paper, short: bool = False, topics=()) -> PaperView:
        # Long digests get shorter abstracts, so that 50 papers stay under Gmail's 102 KB.
        limit = settings.DIGEST_ABSTRACT_CHARS // 2 if short else settings.DIGEST_ABSTRACT_CHARS
        labels = [label for label, _ in paper_links(paper)]
        view = {
            "title": " ".join(paper.title.split()),
            "url": LINK_SLOTS[0],
            "authors": paper.author_line,
            "abstract": shorten(paper.abstract, limit),
            "links": list(zip(labels, LINK_SLOTS[1:])),
            # The community's counts as they were when the edition was built.
            "signal": paper.signal_line,
            # Pages of the site itself (the discussion, topic pages): plain links, not clicks.
            "discuss_url": absolute(paper.get_absolute_url()) + "#discussion",
            # Long digests leave the tags out, as they shorten abstracts (Gmail's 102 KB).
            "topics": [] if short else [(t.name, absolute(t.get_absolute_url())) for t in topics],
        }
        # Rendered once per paper; the subscriber's "why" and feedback links go in the slot,
        # the paper's links in the link slots.
        block = fold_long_lines(get_template("emails/_paper.html").render({"p": view, "why_slot": WHY_SLOT}))
        head, _, tail = block.partition(WHY_SLOT)
        text = fold_long_lines(get_template("emails/_paper.txt").render({"p": view, "why_slot": WHY_SLOT}))
        text_head, _, text_tail = text.partition(WHY_SLOT)
        return cls(id=paper.pk, title=view["title"], authors=view["authors"], abstract=view["abstract"],
                   labels=labels, targets=paper_targets(paper), head=mark_safe(head), tail=mark_safe(tail),
                   text_head=text_head, text_tail=text_tail, shown=view["abstract"].casefold())

    @cached_property
    def picks(self) -> tuple:
        """_pick.html and _pick.txt with this paper's block put in, once per paper and
        process (frames.bound), with fields for what each subscriber's pick adds (its links,
        rank, why and mutes, and the bases of its feedback links): a pick is then one join,
        not a replace per link slot and a fill per partial."""
        slots = {**dict(zip(LINK_SLOTS, LINK_FIELDS)), FEEDBACK_SLOT: "feedback", UPVOTE_SLOT: "upvote"}
        # A feedback link is the subscriber's base (a signed token) and this paper's part.
        # Those hold only our host, the token ([A-Za-z0-9_:.-]) and digits: nothing to escape.
        upvote_url = mark_safe(f"{UPVOTE_SLOT}{self.id}/")
        return (
            bound("_pick.html", {
                "head": self.head, "tail": self.tail, "upvote_url": upvote_url,
                "more_url": mark_safe(f"{FEEDBACK_SLOT}{Feedback.MORE.value}/{self.id}/"),
                "fewer_url": mark_safe(f"{FEEDBACK_SLOT}{Feedback.FEWER.value}/{self.id}/"),
                "not_url": mark_safe(f"{FEEDBACK_SLOT}{Feedback.NOT.value}/{self.id}/"),
            }, slots),
            bound("_pick.txt", {"head": self.text_head, "tail": self.text_tail, "upvote_url": upvote_url,
                                "choices_url": f"{FEEDBACK_SLOT}{self.id}/"}, slots),
        )

    @cached_property
    def plain_links(self) -> tuple[dict[str, str], dict[str, str]]:
        """The link fields of the picks for subscribers with plain links (the same for all):
        the URLs, escaped for the HTML."""
        return dict(zip(LINK_FIELDS, map(escape, self.targets))), dict(zip(LINK_FIELDS, self.targets))


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


@dataclass
class Digest:
    """One digest email: to whom, which edition, which papers (each with why) and how many
    more matched than the email holds."""

    recipient: Recipient
    edition: EditionInfo
    delivery_id: int
    papers: list[tuple[PaperView, Match]]
    more: int = 0


# --- The digest -----------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _domain(from_email: str) -> str:
    # Parsed once: parseaddr() was a twentieth of a digest's rendering, twice per digest.
    return parseaddr(from_email)[1].rpartition("@")[2] or "localhost"


def message_id_for(edition_id: int, delivery_id: int) -> str:
    """The same Message-ID every time a delivery is (re)tried, so that a resend after an
    unknown outcome is recognised by the receiving side as the same message."""
    domain = _domain(settings.DEFAULT_FROM_EMAIL)
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


@lru_cache(maxsize=4096)
def _escaped(text: str) -> SafeString:
    # Reasons and topic names repeat across subscribers: escape each once.
    return escape(text)


def click_url_base() -> str:
    """The absolute /r/ prefix that click tokens follow."""
    return link("click", "")[: -len("/")]


@lru_cache(maxsize=10_000)
def _why_lines(reasons: tuple[Reason, ...], shown: str) -> tuple[str, str]:
    """A pick's Why line (subscribers/why.py in the _why_line partials), HTML and text, made
    once per process for each distinct pair of reasons and paper: the reasons are shared by
    every subscriber with the same topic or keyword (digest.matching.explain), so most
    picks find their line here. Keyed on the abstract as shown, as the snippet depends on it."""
    return (fill_safe("_why_line.html", {"why": why.why_html(reasons, shown)}),
            fill_safe("_why_line.txt", {"why": why.why_text(reasons, shown)}))


def _picks(digest: Digest, feedback_base: str, upvote_base: str) -> tuple[str, str]:
    """The papers' part of the HTML and of the text: each paper's block with the
    subscriber's rank, why, and feedback links around it."""
    topic_ids = dict(digest.recipient.topics)
    mute = Feedback.MUTE.value
    mutes: dict[str, str] = {}  # a topic's mute link, the same for each of this email's papers
    # The fields of every pick, set again for each (safe: see PaperView.picks). A pick's
    # piece has a link field per link of its paper, and each paper's links are all set, so
    # a link left over from a paper with more links is never read.
    html_values = {"feedback": feedback_base, "upvote": upvote_base}
    text_values = dict(html_values)
    html_parts: list[str] = []
    text_parts: list[str] = []
    click_base = None if digest.recipient.plain_links else click_url_base()
    clicks = None if click_base is None else ClickTokens("e", digest.delivery_id)
    for rank, (view, m) in enumerate(digest.papers, start=1):
        html_piece, text_piece = view.picks
        if click_base is None:
            html_links, text_links = view.plain_links
        else:
            html_links = text_links = {field: click_base + token + "/" for field, token in zip(
                LINK_FIELDS, clicks(view.id, len(view.targets)))}
        shown_mutes = []
        for reason in m.reasons:
            if reason.kind == "topic" and reason.label in topic_ids:
                if reason.label not in mutes:
                    url = SafeString(f"{feedback_base}{mute}/{topic_ids[reason.label]}/")
                    mutes[reason.label] = fill_safe("_mute.html", {"topic": _escaped(reason.label), "url": url})
                shown_mutes.append(mutes[reason.label])
        # A top paper's counts are its reason (in the paper's block); other picks say why
        # (subscribers/why.py: the word as written, where, a snippet when it is not shown).
        community = all(r.kind == "community" for r in m.reasons)
        why_html, why_text = ("", "") if community else _why_lines(m.reasons, view.shown)
        html_values.update(html_links)
        html_values["why"] = why_html
        html_values["mutes"] = "".join(shown_mutes)
        html_parts.append(fill_bound(html_piece, html_values))
        # The text part carries one link per paper to a page with every choice (more, fewer,
        # not interested, mute a topic): a line of URLs per choice made plain-text digests unreadable.
        text_values.update(text_links)
        text_values["rank"] = str(rank)
        text_values["why"] = why_text
        text_parts.append(fill_bound(text_piece, text_values))
    return "".join(html_parts), "".join(text_parts)


def digest_message(digest: Digest) -> FastEmail:
    recipient, edition, count = digest.recipient, digest.edition, len(digest.papers)
    date = edition.date
    manage_token = make_token(recipient, "manage")
    unsubscribe_url = link("unsubscribe", make_token(recipient, "unsubscribe"))
    manage_url = link("manage", manage_token)
    # Feedback links differ only by action and id: reverse once, then fill in.
    feedback_base = link("feedback", make_token(recipient, "feedback"), Feedback.MORE.value, 0)
    feedback_base = feedback_base[: -len(f"{Feedback.MORE}/0/")]
    # "Upvote" votes without signing in: one token for this email, valid for its papers only.
    upvote_base = link("email_vote", make_delivery_token(recipient, digest.delivery_id, "upvote"), 0)[: -len("0/")]
    matches = [m for _, m in digest.papers]
    # A subscriber who chose no interest gets the community's top papers (digest.selection),
    # after any close to what they liked.
    top = any(r.kind == "community" for m in matches for r in m.reasons)
    all_labels = top_labels(matches, limit=100)
    subject = digest_subject(count, all_labels[:2], len(all_labels) - 2, date)
    if top:
        period = "of the week " if edition.frequency == Frequency.WEEKLY else ""
        subject = f"The community's top {count} paper{'s' if count != 1 else ''} {period}· {date:%a %-d %b}"
    papers_html, papers_text = _picks(digest, feedback_base, upvote_base)
    if edition.frequency == Frequency.WEEKLY:
        date_label = f"week ending {date:%A %-d %B %Y}"
        heading = f"Your week in papers: {count} picked for you"
    else:
        date_label = f"{date:%A %-d %B %Y}"
        heading = f"{count} paper{'s' if count != 1 else ''} picked for you"
    intro = "Matched to your interests: " + (", ".join(all_labels[:6]) or "your topics") + "."
    if top:
        heading = "The community's top papers" + (" of the week" if edition.frequency == Frequency.WEEKLY else "")
        first = ("first the papers close to ones you liked, then " if any(r.kind != "community" for m in matches
                                                                           for r in m.reasons) else "")
        intro = (f"You chose no topics, so here are {first}the papers readers voted up most. Choose topics or "
                 "keywords in your preferences to get papers picked for you.")
    more = {}
    if digest.more:
        more = {"count": digest.more, "plural": "s" if digest.more != 1 else "",
                "url": link("edition_matches", manage_token, edition.id)}
    line = recipient.interests_line()
    context = {
        "heading": heading,
        "date_label": date_label,
        "intro": intro,
        "preheader": " · ".join(view.title for view, _ in digest.papers[:3])[:140],
        "papers_html": mark_safe(papers_html),
        "papers_text": papers_text,
        "more_html": mark_safe(fill("_more.html", more)) if more else "",
        "more_text": fill("_more.txt", more) if more else "",
        "email": recipient.email,
        "interests_clause": f" for {line}" if line else "",
        "manage_url": manage_url,
        "unsubscribe_url": unsubscribe_url,
    }
    return build_message("digest", recipient.email, subject, context,
                         digest_headers(unsubscribe_url, edition.id, digest.delivery_id))


def digest_headers(unsubscribe_url: str, edition_id: int, delivery_id: int) -> dict[str, str]:
    """A digest's (or quiet-day note's) headers: the list's, no auto-replies, its own Message-ID."""
    return {
        **list_headers(unsubscribe_url),
        "Auto-Submitted": "auto-generated",
        "X-Auto-Response-Suppress": "OOF, AutoReply",
        "Precedence": "bulk",
        "Message-ID": message_id_for(edition_id, delivery_id),
    }


def quiet_message(recipient: Recipient, edition: EditionInfo, delivery_id: int, strictness: str) -> FastEmail:
    """The one-line "nothing strong today" email, for subscribers who asked for it on days
    when nothing cleared their floor (the digest's frame with no papers)."""
    date = edition.date
    manage_url = absolute(reverse("manage", args=[make_token(recipient, "manage")]))
    unsubscribe_url = absolute(reverse("unsubscribe", args=[make_token(recipient, "unsubscribe")]))
    period = "this week" if edition.frequency == Frequency.WEEKLY else "today"
    subject = f"Nothing strong {period} · {date:%a %-d %b}"
    line = recipient.interests_line()
    context = {
        "heading": f"Nothing strong {period}",
        "date_label": f"{date:%A %-d %B %Y}",
        "intro": (f"No paper cleared your bar ({strictness or 'balanced'}), so no "
                  "digest. You get this line because you asked for it on quiet days."),
        "preheader": "No paper cleared your bar.",
        "papers_html": "", "papers_text": "", "more_html": "", "more_text": "",
        "email": recipient.email,
        "interests_clause": f" for {line}" if line else "",
        "manage_url": manage_url,
        "unsubscribe_url": unsubscribe_url,
    }
    return build_message("digest", recipient.email, subject, context,
                         digest_headers(unsubscribe_url, edition.id, delivery_id))
