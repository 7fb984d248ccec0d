"""Signed, purpose-bound tokens for links in emails.

A token is the subscriber's random uid signed with a salt naming its purpose, so that a
confirmation token cannot unsubscribe and the other way round. django.core.signing compares
signatures in constant time. Links that must keep working in old emails (unsubscribe,
preferences) do not expire; confirmation links do."""

from __future__ import annotations

import base64
import hashlib
import uuid
from functools import lru_cache

from django.conf import settings
from django.core import signing
from django.utils.crypto import constant_time_compare

from .models import Subscriber

PURPOSES = {"confirm", "manage", "unsubscribe", "feed", "feedback", "email-change"}
# Tokens bound to one delivery (one email): its links act only on the papers that email held.
DELIVERY_PURPOSES = {"upvote"}
CONFIRM_MAX_AGE = 7 * 24 * 3600


def make_token(subscriber, purpose: str) -> str:
    assert purpose in PURPOSES, purpose
    signer = signing.TimestampSigner(salt=f"paperpost.{purpose}")
    return signer.sign(subscriber.uid.hex)


def read_token(token: str, purpose: str, max_age: int | None = None) -> uuid.UUID | None:
    """The uid a token was made for, or None for any invalid, expired or foreign token."""
    signer = signing.TimestampSigner(salt=f"paperpost.{purpose}")
    try:
        value = signer.unsign(token, max_age=max_age)
        return uuid.UUID(hex=value)
    except (signing.BadSignature, ValueError, TypeError):
        return None


def subscriber_for(token: str, purpose: str, max_age: int | None = None) -> Subscriber | None:
    uid = read_token(token, purpose, max_age=max_age)
    if uid is None:
        return None
    found = Subscriber.objects.filter(uid=uid)
    if purpose == "feed":
        # A private feed is part of the subscription: after unsubscribing (or a bounce, or
        # before confirming) it answers like an unknown link. The manage page, export and
        # delete take "manage" tokens and keep working, so people can come back or leave fully.
        found = found.filter(status__in=[Subscriber.Status.ACTIVE, Subscriber.Status.PAUSED])
    return found.first()


def make_delivery_token(subscriber, delivery_id: int, purpose: str) -> str:
    """One signature per email, however many papers it holds (signing is the costly part)."""
    assert purpose in DELIVERY_PURPOSES, purpose
    signer = signing.TimestampSigner(salt=f"paperpost.{purpose}")
    return signer.sign(f"{delivery_id}.{subscriber.uid.hex}")


def read_delivery_token(token: str, purpose: str, max_age: int | None = None) -> tuple[int, uuid.UUID] | None:
    """(delivery id, subscriber uid) of a valid token, or None."""
    signer = signing.TimestampSigner(salt=f"paperpost.{purpose}")
    try:
        delivery_id, _, uid = signer.unsign(token, max_age=max_age).partition(".")
        return int(delivery_id), uuid.UUID(hex=uid)
    except (signing.BadSignature, ValueError, TypeError):
        return None


# --- Click links (/r/<token>/) ----------------------------------------------------------------
# Short, because every paper link of every email carries one: "e1kq.2n9.0.AbCdEfGhIjKl", the
# kind ("e": from a digest, the id is its delivery; "f": from the private feed, the id is the
# subscriber), the ids in base 36, which of the paper's links, and a 72-bit MAC (keyed BLAKE2b)
# over the kind and both ids, with a key derived from SECRET_KEY for this purpose only. The link number is not signed:
# it picks among the paper's own links, all of them read from the database, never from the URL.
CLICK_KINDS = ("e", "f")
_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"


@lru_cache(maxsize=4096)  # papers' ids recur in every digest
def _base36(number: int) -> str:
    out = ""
    while True:
        number, digit = divmod(number, 36)
        out = _B36[digit] + out
        if not number:
            return out


@lru_cache(maxsize=4)
def _click_mac(secret: str):
    # Keyed BLAKE2b is a MAC in its own right (no HMAC construction needed), with the purpose
    # in its personalisation: a third of HMAC-SHA256's cost, and every email has 20 of these.
    # Keyed once per process: each signature copies this state (the key's block already
    # compressed) instead of keying a new hash, the same bytes for a third less.
    key = hashlib.sha256(b"paperpost.click key\x00" + secret.encode()).digest()
    return hashlib.blake2b(key=key, digest_size=9, person=b"pp.click")


def click_signature(kind: str, owner_id: int, paper_id: int) -> str:
    mac = _click_mac(settings.SECRET_KEY).copy()
    mac.update(f"{kind}{owner_id}.{paper_id}".encode())
    return base64.urlsafe_b64encode(mac.digest()).decode()


class ClickTokens:
    """click_tokens() for the papers of one owner (a digest's 20): the owner's part of the
    tokens, and of the MAC's input, taken once. The same tokens, as click_tokens() is this."""

    def __init__(self, kind: str, owner_id: int):
        assert kind in CLICK_KINDS, kind
        self.stem = f"{kind}{_base36(owner_id)}."
        self.mac = _click_mac(settings.SECRET_KEY).copy()
        self.mac.update(f"{kind}{owner_id}.".encode())  # then the paper id: click_signature()'s input

    def __call__(self, paper_id: int, links: int = 1) -> list[str]:
        mac = self.mac.copy()
        mac.update(str(paper_id).encode())
        signature = base64.urlsafe_b64encode(mac.digest()).decode()
        stem = f"{self.stem}{_base36(paper_id)}."
        return [f"{stem}{link}.{signature}" for link in range(links)]


def click_tokens(kind: str, owner_id: int, paper_id: int, links: int = 1) -> list[str]:
    """The tokens of a paper's `links` links (one signature for them all)."""
    return ClickTokens(kind, owner_id)(paper_id, links)


def read_click_token(token: str) -> tuple[str, int, int, int] | None:
    """(kind, owner id, paper id, link number) of a valid click token, or None."""
    try:
        head, paper, link, signature = token.split(".")
        kind, owner = head[0], int(head[1:], 36)
        paper_id, link_number = int(paper, 36), int(link)
    except (ValueError, IndexError):
        return None
    if kind not in CLICK_KINDS or not 0 <= link_number < 10:
        return None
    if not constant_time_compare(signature, click_signature(kind, owner, paper_id)):
        return None
    return kind, owner, paper_id, link_number
