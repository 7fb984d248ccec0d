"""Code and project links found in abstracts, cleaned of the debris that pages leave on them.

The real daily-papers page has "https://github.com/SKDDJ/LoLDU{https://github.com/SKDDJ/LoLDU}.",
"https://github.com/wenyudu/MIGU{this" (LaTeX \\href remains) and
"https://github.com/Facico/Dynamic-Logit-Fusion.)" (closing punctuation)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

_URL = re.compile(r"https?://[^\s<>\"'`\\]+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}>*'\""
# Hugging Face model and dataset pages are artefacts, not code: they count as project links.
CODE_HOSTS = ("github.com", "gitlab.com", "bitbucket.org", "codeberg.org")


def clean_url(raw: str) -> str | None:
    url = raw
    # LaTeX \href{url}{text} and \url{...} leave a brace right after the URL.
    for stop in ("{", "}", "|"):
        url = url.split(stop, 1)[0]
    while url and url[-1] in _TRAILING:
        # Keep a ")" that closes a "(" inside the URL, as in Wikipedia-style paths.
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break
        url = url[:-1]
    parts = urlsplit(url)
    if parts.scheme.lower() not in {"http", "https"} or not parts.hostname or "." not in parts.hostname:
        return None
    return url


def extract_urls(text: str) -> list[str]:
    found: list[str] = []
    for raw in _URL.findall(text or ""):
        url = clean_url(raw)
        if url and url not in found:
            found.append(url)
    return found


def is_code_url(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    if host.startswith("www."):
        host = host[4:]
    return host in CODE_HOSTS


def code_and_project(text: str) -> tuple[str, str]:
    """(code URL, project URL) named in an abstract; empty strings when there is none."""
    code = project = ""
    for url in extract_urls(text):
        if is_code_url(url):
            code = code or url
        else:
            project = project or url
    return code, project
