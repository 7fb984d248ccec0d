"""Passwordless sign-in by an emailed link.

The web request only records a SignInRequest and queues the mail after commit, so the answer
and its timing are the same whatever the address: whether to mail (suppressed addresses,
curators' accounts, the per-address limit) is decided by the task, never in the request.

The link carries the request's id and a random nonce, signed with a salt naming its purpose
(django.core.signing compares in constant time). It expires after SIGN_IN_MAX_AGE_MINUTES
and works once: using it sets used_at with a conditional UPDATE."""

from __future__ import annotations

import datetime as dt
import logging
import secrets

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from paperpost.ratelimit import allow, parse_rate
from subscribers.emails import absolute, build_message
from subscribers.models import Suppression, normalize_email

from .members import member_for, user_for_email
from .models import SignInRequest

log = logging.getLogger(__name__)

SALT = "paperpost.sign-in"


def record_request(email: str, ip: str | None = None, next_url: str = "") -> SignInRequest:
    """Record one "mail me a link" request; the caller queues tasks.send_sign_in_link on commit."""
    return SignInRequest.objects.create(email=normalize_email(email), nonce=secrets.token_hex(16),
                                        ip=ip or None, next_url=next_url[:500])


def make_link_token(req: SignInRequest) -> str:
    return signing.TimestampSigner(salt=SALT).sign(f"{req.pk}.{req.nonce}")


def read_link_token(token: str) -> SignInRequest | None:
    """The unused, unexpired request a token names, or None for any bad token."""
    try:
        value = signing.TimestampSigner(salt=SALT).unsign(token, max_age=settings.SIGN_IN_MAX_AGE_MINUTES * 60)
    except signing.BadSignature:
        return None
    pk, _, nonce = value.partition(".")
    if not pk.isdigit():
        return None
    req = SignInRequest.objects.filter(pk=int(pk), used_at__isnull=True).first()
    if req is None or not constant_time_compare(req.nonce, nonce):
        return None
    return req


def use_link(req: SignInRequest):
    """Spend the link and return the account to sign in, or None if it was already used
    (or names a curator's account: those sign in with their password at /admin/)."""
    spent = SignInRequest.objects.filter(pk=req.pk, used_at__isnull=True).update(used_at=timezone.now())
    if not spent:
        return None
    user = user_for_email(req.email)
    if user.is_staff or not user.is_active:
        log.warning("sign-in link for a staff or inactive account refused (request=%s)", req.pk)
        return None
    member_for(user)
    return user


NOTICE = {
    "subject": "Your Paperpost sign-in link",
    "heading": "Sign in to Paperpost",
    "intro": "Someone, hopefully you, asked to sign in to Paperpost with this address, to vote for "
             "papers, submit them and take part in the discussions.",
    "button_label": "Sign me in",
    "after": "The link works once, for {minutes} minutes. If you did not ask for it, ignore this email: "
             "nobody can sign in without it.",
}
FOOTER = "Paperpost sends daily research-paper digests. This is an automatic message."


def send_link(request_id: int) -> str:
    """What the mail task does: decide, then mail. Returns the outcome it recorded."""
    claimed = SignInRequest.objects.filter(pk=request_id, outcome="").update(outcome="sending")
    req = SignInRequest.objects.filter(pk=request_id).first()
    if not claimed or req is None:
        return "gone"
    outcome = _outcome(req)
    if outcome == "sent":
        minutes = settings.SIGN_IN_MAX_AGE_MINUTES
        context = {k: v.format(minutes=minutes) for k, v in NOTICE.items() if k != "subject"}
        context.update(button_url=absolute(reverse("login_link", args=[make_link_token(req)])), footer=FOOTER)
        message = build_message("notice", req.email, NOTICE["subject"], context,
                                headers={"Auto-Submitted": "auto-generated"})
        try:
            message.send(fail_silently=False)
        except Exception:
            SignInRequest.objects.filter(pk=req.pk).update(outcome="")  # the retry claims it again
            raise
    SignInRequest.objects.filter(pk=req.pk).update(outcome=outcome)
    log.info("sign-in request=%s: %s", req.pk, outcome)
    return outcome


def _outcome(req: SignInRequest) -> str:
    if Suppression.reason_for(req.email) in (Suppression.Reason.BOUNCED, Suppression.Reason.COMPLAINED):
        return "suppressed"
    user = user_for_email(req.email, create=False)
    if user is not None and user.is_staff:
        return "staff"
    if not allow("sign-in-address", req.email, *parse_rate(settings.SIGN_IN_RATE_PER_ADDRESS)):
        return "throttled"
    return "sent"


def prune(max_age_hours: int = 24) -> int:
    """Requests older than a day are of no use (their links expired); drop their addresses."""
    cutoff = timezone.now() - dt.timedelta(hours=max_age_hours)
    return SignInRequest.objects.filter(created_at__lt=cutoff).delete()[0]
