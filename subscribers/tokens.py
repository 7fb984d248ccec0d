"""Signed, purpose-bound tokens for links in emails.

A token is the subscriber's random uid signed with a salt naming its purpose, so that a
confirmation token cannot unsubscribe and the other way round. django.core.signing compares
signatures in constant time. Links that must keep working in old emails (unsubscribe,
preferences) do not expire; confirmation links do."""

from __future__ import annotations

import uuid

from django.core import signing

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
