"""The plain record every parser produces and the store step consumes."""

from __future__ import annotations

import datetime as dt
import html
import re
import unicodedata
from dataclasses import dataclass, field


class ParseError(ValueError):
    """The whole input is unusable (not the format, an error document, undecodable)."""


@dataclass
class PaperRecord:
    title: str
    abstract: str = ""
    arxiv_id: str = ""
    version: int | None = None
    authors: list[str] = field(default_factory=list)
    affiliations: dict[str, list[str]] = field(default_factory=dict)
    categories: list[str] = field(default_factory=list)
    primary_category: str = ""
    abs_url: str = ""
    pdf_url: str = ""
    code_url: str = ""
    project_url: str = ""
    thumbnail: str = ""
    doi: str = ""
    journal_ref: str = ""
    comment: str = ""
    rights: str = ""
    published: dt.date | None = None
    announce_date: dt.date | None = None
    announce_type: str = ""
    upvotes: int | None = None
    stars: int | None = None
    num_comments: int | None = None
    submitter: str = ""
    ai_keywords: list[str] = field(default_factory=list)
    ai_summary: str = ""

    @property
    def key(self) -> str:
        return paper_key(self.arxiv_id, self.title)


@dataclass
class ParseResult:
    format: str
    records: list[PaperRecord]
    # Per-item problems: the item was dropped, the rest of the feed still lands.
    errors: list[str] = field(default_factory=list)
    # Problems with the feed as a whole that did not stop it (malformed XML read leniently).
    warnings: list[str] = field(default_factory=list)
    # The day the feed announces (arXiv pubDate, the page's "Mar 19"), if it says.
    date: dt.date | None = None
    title: str = ""


def normalize_title(title: str) -> str:
    text = unicodedata.normalize("NFKC", title).casefold()
    return " ".join(re.findall(r"\w+", text))


def paper_key(arxiv_id: str, title: str) -> str:
    if arxiv_id:
        return f"arxiv:{arxiv_id}"
    return f"title:{normalize_title(title)}"[:300]


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Invisible characters that change how text reads without showing: bidi embeddings, overrides
# and isolates (U+202E turns "txt.exe" around), direction marks, zero-width spaces and joiners,
# word joiners and byte-order marks. A title or name never needs them; a spoofed one does.
INVISIBLE = re.compile("[\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")


def clean_text(text: str) -> str:
    """One line of plain text: control and invisible formatting characters dropped, CR/LF
    and runs of white space folded to single spaces (a CR/LF in a title must never reach an
    email header)."""
    text = INVISIBLE.sub("", _CONTROL.sub("", text or ""))
    return " ".join(text.split())


def clean_name(name: str) -> str:
    """An author's name as plain text. Some sources send names HTML-escaped ("&lt;", "&#39;");
    no name holds entity text, so it is decoded once and stored plain (templates and feeds
    escape it when they write it)."""
    return clean_text(html.unescape(name or ""))
