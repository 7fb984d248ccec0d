"""The life of a subscriber: subscribe (double opt-in), confirm, change address, leave,
export, delete, bounce. Views and commands are thin wrappers around these functions.

Rules that hold here, whatever the caller:
- Nothing but the confirmation is ever mailed to a pending address.
- The web answer is the same whether an address is new, pending, active or suppressed.
- At most one confirmation (or "manage your subscription", or "confirm your new address")
  email per address per CONFIRM_EMAIL_INTERVAL, however often the forms are posted; a
  subscriber asks for at most EMAIL_CHANGE_RATE_PER_SUBSCRIBER address changes.
- Nothing is ever mailed to an address that bounced or complained.
- No text the visitor typed is put into those emails: only our own words and signed links.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.dispatch import Signal
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from kombu.exceptions import OperationalError

from paperpost.celery import app
from paperpost.ratelimit import allow, forget, once, parse_rate

from . import learning
from .emails import absolute, build_message, list_headers, unsubscribe_line
from .models import Feedback, Frequency, Reaction, Subscriber, Suppression, email_hash, normalize_email
from .schedule import is_zone
from .tokens import make_token

log = logging.getLogger(__name__)

# Apps above this one hold more about the same person (the community app: votes, submissions,
# comments). An export asks them for it; a deletion tells them to erase it.
collect_export = Signal()  # receivers return a dict merged into the export
person_deleted = Signal()  # sent with email= after a subscriber erased their data
address_changed = Signal()  # sent with old= and new= after a subscriber changed address

# Queued by name: subscribers.tasks imports this module (see subscribers.delivery).
REQUEST_SUBSCRIPTION = "subscribers.tasks.request_subscription"
EMAIL_CHANGE_SALT = "paperpost.email-change"
EMAIL_CHANGE_MAX_AGE = 2 * 24 * 3600


class Subscribed(StrEnum):
    """What a post of the subscribe form did (for logs and tests: the visitor always sees
    the same page)."""

    SUPPRESSED = "suppressed"  # bounced or complained: nothing sent
    PENDING = "pending"  # a confirmation link went out
    ACTIVE = "active"  # already subscribed: a "manage your subscription" link went out
    PENDING_THROTTLED = "pending-throttled"  # as PENDING, but a mail went out within the hour
    ACTIVE_THROTTLED = "active-throttled"


class AddressChange(StrEnum):
    """What a request to change the address did."""

    SAME = "same"
    THROTTLED_SUBSCRIBER = "throttled-subscriber"  # the subscriber asked too often
    SUPPRESSED = "suppressed"  # the new address gets no mail at all
    THROTTLED = "throttled"  # the new address got a mail within the hour
    SENT = "sent"


@dataclass
class SubscribeRequest:
    email: str
    topics: list
    keywords: str = ""
    frequency: str = Frequency.DAILY
    ip: str | None = None
    about: str = ""
    timezone: str = ""  # guessed by the browser (static/js/timezone.js); empty: the site's default


# The texts of the short emails; every one is the same "notice" template with a button.
NOTICES = {
    "confirm": {
        "subject": "Confirm your Paperpost subscription",
        "heading": "Confirm your subscription",
        "intro": "Someone, hopefully you, asked for Paperpost's research-paper digests at this address.",
        "button_label": "Confirm my subscription",
        "after": "The link works for {days} days. If you did not ask for this, ignore this email: "
                 "nothing will be sent unless the button is pressed.",
    },
    "welcome": {
        "subject": "Welcome to Paperpost",
        "heading": "You are subscribed",
        "intro": "Your first digest arrives with the next day's papers. You can change your topics, "
                 "keywords, frequency and the number of papers per email at any time.",
        "button_label": "Open my preferences",
        "after": "Every digest, like this email, ends with a one-click unsubscribe link.",
    },
    "manage_link": {
        "subject": "Your Paperpost subscription",
        "heading": "You are already subscribed",
        "intro": "Someone asked to subscribe this address, which already gets Paperpost's digests. "
                 "Nothing has changed.",
        "button_label": "Manage my subscription",
        "after": "If you did not ask for this, you can ignore this email.",
    },
    "email_change": {
        "subject": "Confirm your new Paperpost address",
        "heading": "Confirm your new address",
        "intro": "A Paperpost subscriber asked to receive their digests at this address instead.",
        "button_label": "Use this address",
        "after": "The link works for 2 days. If you did not ask for this, ignore this email: "
                 "nothing changes unless the button is pressed.",
    },
}
FOOTER = "Paperpost sends daily research-paper digests. This is an automatic message."


def _send(kind: str, to: str, button_url: str, unsubscribe_url: str = "", **fmt) -> None:
    texts = NOTICES[kind]
    context = {k: v.format(**fmt) for k, v in texts.items() if k != "subject"}
    context.update(button_url=button_url, footer=FOOTER)
    headers = {"Auto-Submitted": "auto-generated"}
    if unsubscribe_url:
        # Mail to a subscriber (the welcome) can be left in one click, like every digest.
        context.update(unsubscribe_line(unsubscribe_url))
        headers.update(list_headers(unsubscribe_url))
    message = build_message("notice", to, texts["subject"], context, headers=headers)
    message.send(fail_silently=False)


def queue_subscription(req: SubscribeRequest) -> None:
    """Hand a post of the subscribe form to a worker (subscribers.tasks.request_subscription).
    What follows depends on the address: a row written and a confirmation sent for a new one,
    a "manage" link for a subscriber, nothing for a suppressed one. Done while the visitor
    waited, that took measurably different times (an SMTP conversation most of all), and the
    time of the answer told which addresses are on the list; queued, every answer takes the
    same. Without a broker (embedded mode) the task runs here. If the broker is down, the
    request does the work itself, slower but with nothing lost."""
    task = app.tasks[REQUEST_SUBSCRIPTION]
    topic_ids = [topic.pk for topic in req.topics]
    try:
        task.delay(req.email, topic_ids, req.keywords, req.frequency, req.ip, req.about, req.timezone)
    except (OperationalError, ConnectionError, OSError) as exc:
        log.error("subscribe: the broker is unavailable (%s); handled in the request", exc)
        request_subscription(req)


def request_subscription(req: SubscribeRequest) -> Subscribed:
    """Handle one post of the subscribe form (queued by queue_subscription). Returns what
    happened, for logs and tests (never shown to the visitor, who always sees the same page)."""
    email = normalize_email(req.email)
    reason = Suppression.reason_for(email)
    if reason in Suppression.NEVER_MAIL:
        log.info("subscribe: %s is suppressed (%s); nothing sent", email_hash(email)[:12], reason)
        return Subscribed.SUPPRESSED
    with transaction.atomic():
        subscriber = Subscriber.objects.select_for_update().filter(email__iexact=email).first()
        if subscriber is not None and subscriber.status in (Subscriber.Status.ACTIVE, Subscriber.Status.PAUSED):
            outcome = Subscribed.ACTIVE
        else:
            outcome = Subscribed.PENDING
            if subscriber is None:
                subscriber = Subscriber(email=email)
            # A pending (or former) subscriber's choices are replaced by the latest post;
            # nothing changes for them until the address owner confirms.
            subscriber.status = Subscriber.Status.PENDING
            subscriber.keywords = req.keywords or ""
            subscriber.about = req.about or ""
            subscriber.frequency = req.frequency
            subscriber.timezone = req.timezone if is_zone(req.timezone) else ""
            subscriber.consent_at = timezone.now()
            subscriber.consent_ip = req.ip
            subscriber.consent_source = settings.SUBSCRIBE_FORM_VERSION
            subscriber.confirmed_at = None
            subscriber.save()
            subscriber.topics.set(req.topics or [])
    if not once("confirm-mail", email, settings.CONFIRM_EMAIL_INTERVAL):
        log.info("subscribe: a mail went to %s within the hour; nothing sent", email_hash(email)[:12])
        return Subscribed.ACTIVE_THROTTLED if outcome == Subscribed.ACTIVE else Subscribed.PENDING_THROTTLED
    try:
        if outcome == Subscribed.ACTIVE:
            _send("manage_link", email, absolute(reverse("manage", args=[make_token(subscriber, "manage")])))
        else:
            _send("confirm", email, absolute(reverse("confirm", args=[make_token(subscriber, "confirm")])),
                  days=settings.CONFIRM_MAX_AGE_DAYS)
    except Exception:
        # Not sent, so the hour's one mail is still to come: a retry of this request may send it.
        forget("confirm-mail", email)
        raise
    return outcome


def confirm(subscriber: Subscriber) -> bool:
    """Activate a pending subscriber and send the welcome email. Idempotent."""
    with transaction.atomic():
        changed = Subscriber.objects.filter(pk=subscriber.pk, status=Subscriber.Status.PENDING).update(
            status=Subscriber.Status.ACTIVE, confirmed_at=timezone.now(), unsubscribed_at=None
        )
        if changed:
            # A new confirmation lifts an earlier deletion's suppression.
            Suppression.objects.filter(email_hash=email_hash(subscriber.email)).delete()
    subscriber.refresh_from_db()
    if changed:
        _send("welcome", subscriber.email, absolute(reverse("manage", args=[make_token(subscriber, "manage")])),
              unsubscribe_url=absolute(reverse("unsubscribe", args=[make_token(subscriber, "unsubscribe")])))
        log.info("subscriber=%s confirmed", subscriber.pk)
    return bool(changed)


def unsubscribe(subscriber: Subscriber) -> bool:
    """Idempotent; True if this call changed the status. The delivery engine reads the
    status again right before each send, so an edition already under way skips them too."""
    changed = Subscriber.objects.filter(pk=subscriber.pk).exclude(
        status=Subscriber.Status.UNSUBSCRIBED
    ).update(status=Subscriber.Status.UNSUBSCRIBED, unsubscribed_at=timezone.now())
    if changed:
        log.info("subscriber=%s unsubscribed", subscriber.pk)
    return bool(changed)


def suppress(address: str, reason: str, detail: str = "") -> Subscriber | None:
    """Stop all mail to an address (hard bounce, complaint, operator). Returns its subscriber."""
    status = {
        Suppression.Reason.BOUNCED: Subscriber.Status.BOUNCED,
        Suppression.Reason.COMPLAINED: Subscriber.Status.COMPLAINED,
    }.get(reason, Subscriber.Status.UNSUBSCRIBED)
    with transaction.atomic():
        Suppression.objects.update_or_create(
            email_hash=email_hash(address), defaults={"reason": reason, "detail": detail[:300]}
        )
        subscriber = Subscriber.objects.filter(email__iexact=normalize_email(address)).first()
        if subscriber is not None:
            Subscriber.objects.filter(pk=subscriber.pk).update(status=status)
            subscriber.status = status
    log.info("suppressed %s: %s %s", email_hash(address)[:12], reason, detail)
    return subscriber


def delete_subscriber(subscriber: Subscriber) -> None:
    """Erase the subscriber and their deliveries; keep only a hash of the address."""
    with transaction.atomic():
        Suppression.objects.update_or_create(
            email_hash=email_hash(subscriber.email), defaults={"reason": Suppression.Reason.DELETED}
        )
        email = subscriber.email
        subscriber.delete()  # deliveries go with it (on_delete=CASCADE)
    person_deleted.send(sender=Subscriber, email=email)
    log.info("a subscriber deleted their data")


def export_data(subscriber: Subscriber) -> dict:
    """Everything stored about the address (GDPR art. 15 and 20)."""
    deliveries = [
        {
            "edition": str(d.edition),
            "status": d.status,
            "sent_at": d.sent_at.isoformat() if d.sent_at else None,
            "message_id": d.message_id,
            "papers": d.papers,
            "attempts": d.attempts,
            "skip_reason": d.skip_reason,
        }
        for d in subscriber.deliveries.select_related("edition").order_by("created_at")
    ]
    def iso(value):
        return value.isoformat() if value else None

    data = {
        "email": subscriber.email,
        "status": subscriber.status,
        "frequency": subscriber.frequency,
        "topics": [t.name for t in subscriber.topics.all()],
        "keywords": subscriber.keywords,
        "categories": subscriber.categories,
        "authors": subscriber.authors,
        "about": subscriber.about,
        "strictness": subscriber.strictness,
        "quiet_day_note": subscriber.quiet_day_note,
        "max_papers": subscriber.max_papers,
        "liked_papers": [p.key for p in subscriber.liked_papers.all()],
        "fewer_like_papers": [p.key for p in subscriber.disliked_papers.all()],
        "reactions": [{"paper": key, "kind": kind, "at": iso(at)} for key, kind, at in
                      subscriber.reactions.values_list("paper__key", "kind", "created_at")],
        "learned_model": getattr(getattr(subscriber, "learning", None), "model", None),
        "paused_until": iso(subscriber.paused_until),
        "consent": {
            "given_at": iso(subscriber.consent_at),
            "ip": subscriber.consent_ip,
            "source": subscriber.consent_source,
            "confirmed_at": iso(subscriber.confirmed_at),
        },
        "unsubscribed_at": iso(subscriber.unsubscribed_at),
        "created_at": iso(subscriber.created_at),
        "updated_at": iso(subscriber.updated_at),
        "deliveries": deliveries,
        "plain_links": subscriber.plain_links,
        "clicks": [
            {"paper": c.paper.identifier, "via": c.via, "at": iso(c.at)}
            for c in subscriber.clicks.select_related("paper").order_by("at")
        ],
    }
    for _receiver, extra in collect_export.send(sender=Subscriber, subscriber=subscriber):
        data.update(extra or {})
    return data


def request_email_change(subscriber: Subscriber, new_email: str) -> AddressChange:
    """Mail a confirmation link to the new address; nothing changes until it is used.
    Returns what happened (for logs, tests and the one message the subscriber sees)."""
    new_email = normalize_email(new_email)
    if new_email == subscriber.email:
        return AddressChange.SAME
    # The subscriber's own limit first: one manage link must not mail a list of strangers.
    limit, window = parse_rate(settings.EMAIL_CHANGE_RATE_PER_SUBSCRIBER)
    if not allow("email-change", subscriber.uid.hex, limit, window):
        log.warning("subscriber=%s: address-change limit reached; nothing sent", subscriber.pk)
        return AddressChange.THROTTLED_SUBSCRIBER
    if Suppression.reason_for(new_email) in Suppression.NEVER_MAIL:
        log.info("email change: %s is suppressed; nothing sent", email_hash(new_email)[:12])
        return AddressChange.SUPPRESSED
    # The same per-address budget as the subscribe form's mails: a target gets at most one
    # unrequested mail from us per interval, whoever asks.
    if not once("confirm-mail", new_email, settings.CONFIRM_EMAIL_INTERVAL):
        return AddressChange.THROTTLED
    # "f" binds the link to the address it changes from: once used (or once any later change
    # is made) it no longer matches, so an old link can neither be replayed nor undo a change.
    token = signing.dumps({"u": subscriber.uid.hex, "e": new_email, "f": email_hash(subscriber.email)[:20]},
                          salt=EMAIL_CHANGE_SALT, compress=True)
    _send("email_change", new_email, absolute(reverse("email_change", args=[token])))
    return AddressChange.SENT


def read_email_change(token: str) -> tuple[Subscriber, str] | None:
    try:
        data = signing.loads(token, salt=EMAIL_CHANGE_SALT, max_age=EMAIL_CHANGE_MAX_AGE)
        subscriber = Subscriber.objects.filter(uid=data["u"]).first()
        new_email = normalize_email(data["e"])
        changes_from = data["f"]
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None
    if subscriber is None or not constant_time_compare(changes_from, email_hash(subscriber.email)[:20]):
        return None
    return subscriber, new_email


def apply_email_change(subscriber: Subscriber, new_email: str) -> bool:
    """False if another subscriber already has the address, or if the address changed since
    the link was read (two tabs racing: only one link is ever used)."""
    with transaction.atomic():
        if Subscriber.objects.filter(email__iexact=new_email).exclude(pk=subscriber.pk).exists():
            return False
        old_email = subscriber.email
        changed = Subscriber.objects.filter(pk=subscriber.pk, email=subscriber.email).update(
            email=new_email, updated_at=timezone.now())
        if not changed:
            return False
        subscriber.email = new_email
    address_changed.send(sender=Subscriber, old=old_email, new=new_email)
    log.info("subscriber=%s changed address", subscriber.pk)
    return True


# What each feedback action records (subscribers.learning): "more", "fewer" and "not"
# come from the digest's links, the preference centre and the personal pages; "upvote" from
# a vote on the site (the community app).
FEEDBACK_REACTIONS = {
    Feedback.MORE: Reaction.Kind.MORE,
    Feedback.FEWER: Reaction.Kind.FEWER,
    Feedback.NOT: Reaction.Kind.NOT_INTERESTED,
    "upvote": Reaction.Kind.UPVOTED,
}


def apply_feedback(subscriber: Subscriber, action: str, obj) -> None:
    """MORE, FEWER, NOT (not interested) and "upvote" record a reaction to a paper (undoing
    the opposite one) and retrain the subscriber's model; MUTE drops a topic."""
    if action in FEEDBACK_REACTIONS:
        learning.record(subscriber, obj, FEEDBACK_REACTIONS[action])
    elif action == Feedback.MUTE:
        subscriber.topics.remove(obj)
    else:
        raise ValueError(action)
    log.info("subscriber=%s feedback %s %s", subscriber.pk, action, obj.pk)


def withdraw_feedback(subscriber: Subscriber, paper, action: str | None = None) -> None:
    """Take back what a feedback action said about a paper (all of it without `action`):
    an unvote, or the person removing a paper from what was learned."""
    kinds = [FEEDBACK_REACTIONS[action]] if action else None
    learning.take_back(subscriber, paper, kinds)
    log.info("subscriber=%s withdrew %s on %s", subscriber.pk, action or "all feedback", paper.pk)
