"""Every page carries a Content-Security-Policy without inline script, and the other headers
`check --deploy` looks for. The browser tests check that the pages and the admin still work
under the policy (they fail on any CSP violation the browser reports)."""

import re
from pathlib import Path

import pytest

from subscribers.tokens import make_token

pytestmark = pytest.mark.django_db


def pages(batch, subscriber):
    paper = batch.entries.first().paper
    manage = make_token(subscriber, "manage")
    return [
        "/", f"/papers/{batch.date:%Y-%m-%d}/", f"/paper/{paper.identifier}/", "/best/week/",
        "/topics/lora-peft/", "/search/?q=lora", f"/u/{manage}/", f"/u/{manage}/delete/",
        f"/u/{make_token(subscriber, 'unsubscribe')}/unsubscribe/", "/admin/login/", "/no-such-page/",
        "/feed/", "/robots.txt",
    ]


def directives(header: str) -> dict[str, list[str]]:
    out = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


def test_every_page_has_a_content_security_policy_without_inline_script(client, batch, make_subscriber):
    subscriber = make_subscriber(topics=["lora-peft"])
    for url in pages(batch, subscriber):
        response = client.get(url)
        assert "Content-Security-Policy" in response, url
        policy = directives(response["Content-Security-Policy"])
        assert policy["default-src"] == ["'self'"], url
        assert "'unsafe-inline'" not in policy.get("script-src", policy["default-src"]), url
        assert "'unsafe-eval'" not in policy.get("script-src", policy["default-src"]), url
        assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"], url
        assert policy["base-uri"] == ["'none'"] and policy["form-action"] == ["'self'"], url


def test_the_other_security_headers(client, batch, make_subscriber):
    subscriber = make_subscriber()
    for url in pages(batch, subscriber):
        response = client.get(url)
        assert response["X-Content-Type-Options"] == "nosniff", url
        assert response["Referrer-Policy"] == "same-origin", url
        assert response["Cross-Origin-Opener-Policy"] == "same-origin", url
        assert response["X-Frame-Options"] == "DENY", url


def test_no_template_has_inline_script_or_event_handlers():
    root = Path(__file__).resolve().parent.parent / "templates"
    for path in root.rglob("*.html"):
        text = path.read_text()
        for m in re.finditer(r"<script\b[^>]*>", text):
            assert "src=" in m.group(0), f"{path}: inline <script>"
        assert not re.search(r"\son[a-z]+\s*=", text), f"{path}: inline event handler"
        assert "javascript:" not in text.lower(), f"{path}: javascript: URL"
