"""Papers a person names: arXiv ids and links, a pasted list, a BibTeX or RIS file (a
reference manager's export). Pure: text in, a list of References out; finding the papers
is the caller's (subscribers.likes).

BibTeX is read with bibtexparser and RIS with rispy; an entry counts when it carries an
arXiv id (eprint, an arxiv.org URL, the arXiv DOI 10.48550/arXiv.ID, "arXiv:ID" in a note
or journal field) or at least a title. Anything else is a plain list: ids, links and DOIs
separated by commas, spaces or lines."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import bibtexparser
import rispy

from .feedtools import ARXIV_ID

MAX_ENTRIES = 100

# An arXiv id inside any text: a bare id, "arXiv:ID", an arxiv.org / Hugging Face / alphaXiv
# link, or the arXiv DOI. The version and a .pdf suffix are dropped.
_PREFIX = r"(?:arxiv:\s*|arxiv\.org/(?:abs|pdf|html)/|huggingface\.co/papers/|alphaxiv\.org/(?:abs/)?|10\.48550/arxiv\.)"
_IN_TEXT = re.compile(rf"{_PREFIX}({ARXIV_ID})(?:v\d+)?", re.I)
_BARE = re.compile(rf"({ARXIV_ID})(?:v\d+)?(?:\.pdf)?", re.I)
_BIBTEX = re.compile(r"^\s*@\s*[A-Za-z]+\s*[{(]", re.M)
_RIS = re.compile(r"^TY  - ", re.M)


class ReferenceError(ValueError):
    """The text cannot be read as references; the message says why, for the person."""


@dataclass(frozen=True)
class Reference:
    arxiv_id: str = ""
    title: str = ""
    given: str = ""  # what the person wrote, for messages ("line 3", "the entry vaswani2017")


def normalize_id(identifier: str) -> str:
    # New-style ids are digits; old-style archive names are lower case (hep-ex/0601001).
    return identifier if "/" not in identifier else identifier.lower()


def arxiv_id_in(text: str) -> str:
    """The first arXiv id named in `text` (a link, "arXiv:ID", the DOI), or ''."""
    found = _IN_TEXT.search(text or "")
    return normalize_id(found.group(1)) if found else ""


def parse_references(text: str) -> list[Reference]:
    """Every paper named in `text`, in order, each once."""
    text = (text or "").replace("\x00", "")
    if _BIBTEX.search(text):
        refs = _bibtex(text)
    elif _RIS.search(text):
        refs = _ris(text)
    else:
        refs = _plain(text)
    seen, out = set(), []
    for ref in refs:
        key = ref.arxiv_id or ref.title.casefold()
        if key and key not in seen:
            seen.add(key)
            out.append(ref)
    if len(out) > MAX_ENTRIES:
        raise ReferenceError(f"That names {len(out)} papers; at most {MAX_ENTRIES} at a time, please.")
    return out


def _plain(text: str) -> list[Reference]:
    refs = []
    for number, item in enumerate(re.split(r"[\s,;]+", text.strip()), start=1):
        if not item:
            continue
        identifier = arxiv_id_in(item)
        if not identifier:
            bare = _BARE.fullmatch(item.strip("<>()[]\"'"))
            identifier = normalize_id(bare.group(1)) if bare else ""
        if not identifier:
            raise ReferenceError(f"{item[:60]!r} is not an arXiv id or link (use forms like 2403.12345 or "
                                 "https://arxiv.org/abs/2403.12345), nor a BibTeX or RIS file.")
        refs.append(Reference(identifier, given=item[:100]))
    return refs


def _clean_title(value: str) -> str:
    return " ".join(re.sub(r"[{}]", "", value or "").split())[:500]


def _bibtex(text: str) -> list[Reference]:
    # bibtexparser logs each block it cannot read; the caller reports them instead.
    logging.getLogger("bibtexparser").setLevel(logging.ERROR)
    library = bibtexparser.parse_string(text)
    if not library.entries:
        raise ReferenceError("No BibTeX entry could be read from that file.")
    refs = []
    for entry in library.entries:
        fields = {k.lower(): str(f.value) for k, f in entry.fields_dict.items()}
        identifier = ""
        if fields.get("eprint") and (fields.get("archiveprefix", "arxiv").lower() == "arxiv"):
            bare = _BARE.fullmatch(fields["eprint"].strip())
            identifier = normalize_id(bare.group(1)) if bare else ""
        for name in ("url", "doi", "journal", "note", "howpublished", "eprint"):
            identifier = identifier or arxiv_id_in(fields.get(name, ""))
        title = _clean_title(fields.get("title", ""))
        if identifier or title:
            refs.append(Reference(identifier, title, given=f"the entry {entry.key}"))
    return refs


def _ris(text: str) -> list[Reference]:
    try:
        entries = rispy.loads(text)
    except (ValueError, KeyError, IndexError) as exc:
        raise ReferenceError(f"That RIS file cannot be read: {exc}") from None
    refs = []
    for number, entry in enumerate(entries, start=1):
        identifier = ""
        for name in ("urls", "doi", "notes", "journal_name", "secondary_title", "number"):
            value = entry.get(name) or ""
            for item in value if isinstance(value, list) else [value]:
                identifier = identifier or arxiv_id_in(str(item))
        title = _clean_title(entry.get("title") or entry.get("primary_title") or "")
        if identifier or title:
            refs.append(Reference(identifier, title, given=f"entry {number}"))
    if not refs:
        raise ReferenceError("No RIS entry with an arXiv id or a title could be read from that file.")
    return refs
