"""Creating and updating subscribers from operator input (commands, CSV import)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from digest.ingest.references import ReferenceError, parse_references
from digest.matching import parse_terms
from digest.models import Topic

from . import likes
from .models import Frequency, Strictness, Subscriber, Suppression, normalize_email

# Bounds on what people and operators type. 254 is the longest address SMTP carries (RFC 5321
# forward path); the others keep one subscriber's interests to what matching can use and
# keep a hostile 100 KB string out of the database and out of every digest run.
MAX_EMAIL_CHARS = 254
MAX_CHARS = {"keywords": 2000, "authors": 2000, "categories": 500, "consent": 100, "about": 1000}
MAX_TERM_CHARS = 100
MAX_TERMS = 50


@dataclass
class SubscriberInput:
    email: str
    keywords: str = ""
    topics: str = ""
    categories: str = ""
    authors: str = ""
    frequency: str = Frequency.DAILY
    consent: str = ""
    about: str = ""
    like: str = ""  # arXiv ids or links, separated by commas
    strictness: str = ""  # empty: keep (or default to balanced)


def _split(value: str) -> list[str]:
    return [v.strip() for v in (value or "").replace(";", ",").split(",") if v.strip()]


def check_text(field: str, value: str, limit: int | None = None) -> str:
    """Refuse NUL characters (PostgreSQL cannot store them) and text over the field's bound."""
    value = value or ""
    if "\x00" in value:
        raise ValidationError(f"{field}: NUL characters are not allowed")
    limit = limit or MAX_CHARS[field]
    if len(value) > limit:
        raise ValidationError(f"{field}: at most {limit} characters (it has {len(value)})")
    return value


def clean_email(value: str) -> str:
    email = check_text("email", normalize_email(value), MAX_EMAIL_CHARS)
    validate_email(email)
    return email


def clean_keywords(value: str) -> str:
    """Keywords and phrases as matching reads them, one canonical spelling."""
    terms = parse_terms(check_text("keywords", value))
    if len(terms) > MAX_TERMS:
        raise ValidationError(f"At most {MAX_TERMS} keywords and phrases, please.")
    long = [t.text[:30] + "…" for t in terms if len(t.text) > MAX_TERM_CHARS]
    if long:
        raise ValidationError(f"keywords: at most {MAX_TERM_CHARS} characters each ({long[0]!r} is longer)")
    return ", ".join(("-" if t.exclude else "") + (f'"{t.text}"' if "," in t.text else t.text) for t in terms)


def clean_about(value: str) -> str:
    """An "about me" text: one line of plain words, at most 1,000 characters."""
    return " ".join(check_text("about", value or "").split())


def clean_strictness(value: str) -> str:
    value = (value or Strictness.BALANCED).strip().lower()
    if value not in Strictness.values:
        raise ValidationError(f"strictness must be one of {', '.join(Strictness.values)}, not {value!r}")
    return value


def clean_authors(value: str) -> str:
    names = list(dict.fromkeys(_split(check_text("authors", value))))
    if len(names) > MAX_TERMS:
        raise ValidationError(f"At most {MAX_TERMS} authors, please.")
    long = [n[:30] + "…" for n in names if len(n) > MAX_TERM_CHARS]
    if long:
        raise ValidationError(f"authors: at most {MAX_TERM_CHARS} characters each ({long[0]!r} is longer)")
    return ", ".join(names)


def clean_categories(value: str) -> str:
    cats = _split(check_text("categories", value))
    bad = [c for c in cats if not re.match(r"^[a-z-]+(\.[A-Za-z-]+)?$|^[a-z-]+\.?\*$", c)]
    if bad:
        raise ValidationError(f"not an arXiv category: {', '.join(bad)} (use forms like cs.CL or cs.*)")
    return ", ".join(dict.fromkeys(cats))


def resolve_topics(value: str) -> list[Topic]:
    slugs = _split(value)
    topics = list(Topic.objects.filter(slug__in=slugs))
    missing = sorted(set(slugs) - {t.slug for t in topics})
    if missing:
        known = ", ".join(Topic.objects.order_by("slug").values_list("slug", flat=True))
        raise ValidationError(f"unknown topic {', '.join(missing)}; known topics: {known}")
    return topics


class Refused(Exception):
    """The address unsubscribed: an operator brings it back only with --resubscribe and a
    record of the person's new consent."""


def upsert_confirmed(data: SubscriberInput, source: str, resubscribe: bool = False) -> tuple[Subscriber, bool]:
    email = clean_email(data.email)
    reason = Suppression.reason_for(email)
    if reason:
        # Deleted, bounced or complained: only a new confirmation through the site may
        # bring the address back, not an operator's import.
        raise ValidationError(f"{email} is suppressed ({reason}); it can only come back by confirming on the site")
    if data.frequency not in Frequency.values:
        raise ValidationError(f"frequency must be one of {', '.join(Frequency.values)}")
    topics = resolve_topics(check_text("topics", data.topics, MAX_CHARS["keywords"]))
    categories = clean_categories(data.categories)
    keywords = clean_keywords(data.keywords)
    authors = clean_authors(data.authors)
    about = clean_about(data.about)
    strictness = clean_strictness(data.strictness) if data.strictness else ""
    like = check_text("like", data.like or "", MAX_CHARS["keywords"])
    if like.strip():
        try:
            parse_references(like)  # refuse a bad id before anything is written
        except ReferenceError as exc:
            raise ValidationError(f"like: {exc}") from None
    consent = check_text("consent", (data.consent or "").strip())
    now = timezone.now()
    with transaction.atomic():
        subscriber = Subscriber.objects.select_for_update().filter(email__iexact=email).first()
        created = subscriber is None
        returning = not created and subscriber.status == Subscriber.Status.UNSUBSCRIBED
        if created:
            subscriber = Subscriber(email=email)
        elif returning:
            # They chose to leave: an old list must not sign them up again.
            if not (resubscribe and consent):
                when = f" on {subscriber.unsubscribed_at:%Y-%m-%d}" if subscriber.unsubscribed_at else ""
                raise Refused(f"{email} unsubscribed{when}; only --resubscribe with a record of their "
                              "new consent brings them back")
            subscriber.unsubscribed_at = None
        if created or returning:
            # The consent record: when, and in the operator's words how, they asked.
            subscriber.consent_at = now
            subscriber.consent_source = (f"{consent} (via {source})" if consent else source)[:100]
        subscriber.status = Subscriber.Status.ACTIVE
        subscriber.confirmed_at = subscriber.confirmed_at or now
        subscriber.keywords = keywords
        subscriber.categories = categories
        subscriber.authors = authors
        subscriber.about = about
        if strictness:
            subscriber.strictness = strictness
        subscriber.frequency = data.frequency
        subscriber.save()
        subscriber.topics.set(topics)
        if like.strip():
            # Known papers are liked now; unknown ids are fetched from arXiv by a task.
            try:
                likes.add_liked(subscriber, like)
            except likes.LikesRefused as exc:
                raise ValidationError(f"like: {exc}") from None
    return subscriber, created
