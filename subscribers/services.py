"""Creating and updating subscribers from operator input (commands, CSV import)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from functools import lru_cache

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from digest.ingest.references import ReferenceError, parse_references
from digest.matching import parse_terms
from digest.models import Topic

from . import likes
from .models import Frequency, Strictness, Subscriber, Suppression, normalize_email
from .schedule import is_zone, parse_hour, parse_weekday

# Bounds on what people and operators type. 254 is the longest address SMTP carries (RFC 5321
# forward path); the others keep one subscriber's interests to what matching can use and
# keep a hostile 100 KB string out of the database and out of every digest run.
MAX_EMAIL_CHARS = 254
MAX_CHARS = {"keywords": 2000, "authors": 2000, "categories": 500, "consent": 100, "about": 1000}
MAX_TERM_CHARS = 100
MAX_TERMS = 50
FREQUENCIES = frozenset(Frequency.values)


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
    timezone: str = ""  # IANA name; empty keeps the subscriber's (or the site's default)
    hour: str = ""  # 0..23; empty keeps theirs (or DIGEST_SEND_HOUR)
    weekday: str = ""  # mon..sun, weekly digests; empty keeps theirs


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


# validate_email's own pattern, compiled here: its lazy wrapper costs more than the match.
_USER_PART = re.compile(validate_email.user_regex.pattern, validate_email.user_regex.flags)


@lru_cache(maxsize=4096)
def _good_domain(domain: str) -> bool:
    return domain in validate_email.domain_allowlist or validate_email.validate_domain_part(domain)


def clean_email(value: str) -> str:
    email = check_text("email", normalize_email(value), MAX_EMAIL_CHARS)
    # Django's validate_email, in its own steps, with the domain's verdict remembered: a list
    # has many addresses and few domains, and the domain check is most of a call's cost.
    user, at, domain = email.rpartition("@")
    if not (at and _USER_PART.match(user) and _good_domain(domain)):
        validate_email(email)  # raises with Django's own message
    return email


@lru_cache(maxsize=4096)  # an imported list repeats a few values often
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


@lru_cache(maxsize=4096)  # an imported list repeats a few values often
def clean_authors(value: str) -> str:
    names = list(dict.fromkeys(_split(check_text("authors", value))))
    if len(names) > MAX_TERMS:
        raise ValidationError(f"At most {MAX_TERMS} authors, please.")
    long = [n[:30] + "…" for n in names if len(n) > MAX_TERM_CHARS]
    if long:
        raise ValidationError(f"authors: at most {MAX_TERM_CHARS} characters each ({long[0]!r} is longer)")
    return ", ".join(names)


@lru_cache(maxsize=4096)  # an imported list repeats a few values often
def clean_categories(value: str) -> str:
    cats = _split(check_text("categories", value))
    bad = [c for c in cats if not re.match(r"^[a-z-]+(\.[A-Za-z-]+)?$|^[a-z-]+\.?\*$", c)]
    if bad:
        raise ValidationError(f"not an arXiv category: {', '.join(bad)} (use forms like cs.CL or cs.*)")
    return ", ".join(dict.fromkeys(cats))


def clean_timezone(value: str) -> str:
    name = check_text("timezone", (value or "").strip(), 64)
    if name and not is_zone(name):
        raise ValidationError(f"timezone: {name!r} is not a time zone name (Area/City, e.g. Europe/Paris)")
    return name


def clean_schedule(data: SubscriberInput) -> dict:
    """The schedule fields an operator gave, checked: {field: value} for those not empty."""
    out = {}
    if (data.timezone or "").strip():
        out["timezone"] = clean_timezone(data.timezone)
    try:
        if (str(data.hour) if data.hour is not None else "").strip():
            out["send_hour"] = parse_hour(data.hour)
        if (str(data.weekday) if data.weekday is not None else "").strip():
            out["send_weekday"] = parse_weekday(data.weekday)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None
    return out


def resolve_topics(value: str, known: dict[str, Topic] | None = None) -> list[Topic]:
    """The topics of a comma-separated list of slugs; `known` (slug to topic) saves a query
    per row when many rows are resolved."""
    slugs = _split(value)
    if not slugs:
        return []
    found = known if known is not None else {t.slug: t for t in Topic.objects.filter(slug__in=slugs)}
    missing = sorted({slug for slug in slugs if slug not in found})
    if missing:
        names = sorted(known) if known is not None else Topic.objects.order_by("slug").values_list("slug", flat=True)
        raise ValidationError(f"unknown topic {', '.join(missing)}; known topics: {', '.join(names)}")
    return [found[slug] for slug in dict.fromkeys(slugs)]


class Refused(Exception):
    """The address unsubscribed: an operator brings it back only with --resubscribe and a
    record of the person's new consent."""


@dataclass
class CleanInput:
    """Operator input that passed every check, ready to be stored."""

    email: str
    topics: list[Topic]
    keywords: str
    categories: str
    authors: str
    frequency: str
    consent: str
    about: str = ""
    strictness: str = ""  # empty: keep the stored one
    like: str = ""  # arXiv ids or links, liked once the subscriber is stored
    schedule: dict = field(default_factory=dict)  # timezone, send_hour, send_weekday given


def check_not_suppressed(email: str, reason: str | None) -> None:
    if reason:
        # Deleted, bounced or complained: only a new confirmation through the site may
        # bring the address back, not an operator's import.
        raise ValidationError(f"{email} is suppressed ({reason}); it can only come back by confirming on the site")


def _clean_like(value: str) -> str:
    like = check_text("like", value or "", MAX_CHARS["keywords"]).strip()
    if like:
        try:
            parse_references(like)  # refuse a bad id before anything is written
        except ReferenceError as exc:
            raise ValidationError(f"like: {exc}") from None
    return like


def clean_input(data: SubscriberInput, topics: dict[str, Topic] | None = None) -> CleanInput:
    """Check one row of operator input (the address's suppression is checked apart, see
    check_not_suppressed). Raises ValidationError naming the field. `topics` maps every
    known slug to its topic, to save a query per row."""
    email = clean_email(data.email)
    if data.frequency not in FREQUENCIES:
        raise ValidationError(f"frequency must be one of {', '.join(Frequency.values)}")
    return CleanInput(
        email=email,
        topics=resolve_topics(check_text("topics", data.topics, MAX_CHARS["keywords"]), topics),
        categories=clean_categories(data.categories),
        keywords=clean_keywords(data.keywords),
        authors=clean_authors(data.authors),
        frequency=data.frequency,
        consent=check_text("consent", (data.consent or "").strip()),
        about=clean_about(data.about),
        strictness=clean_strictness(data.strictness) if data.strictness else "",
        like=_clean_like(data.like),
        schedule=clean_schedule(data),
    )


def confirmed_changes(current, data: CleanInput, source: str, resubscribe: bool, now: dt.datetime) -> dict:
    """The fields operator input sets on a subscriber: active, with these interests, and a
    consent record when they are new or come back. `current` is the stored subscriber (or
    anything with its status, unsubscribed_at and confirmed_at), None for a new address.
    Raises Refused for an address that unsubscribed, unless `resubscribe` and the row records
    the person's new consent. A plain function: add_subscriber applies the changes to one
    subscriber, an import (subscribers.imports) to many at once."""
    returning = current is not None and current.status == Subscriber.Status.UNSUBSCRIBED
    if returning and not (resubscribe and data.consent):
        # They chose to leave: an old list must not sign them up again.
        when = f" on {current.unsubscribed_at:%Y-%m-%d}" if current.unsubscribed_at else ""
        raise Refused(f"{data.email} unsubscribed{when}; only --resubscribe with a record of their "
                      "new consent brings them back")
    changes = {
        "status": Subscriber.Status.ACTIVE,
        "keywords": data.keywords,
        "categories": data.categories,
        "authors": data.authors,
        "frequency": data.frequency,
        "about": data.about,
    }
    if data.strictness:  # empty: keep theirs (or the default)
        changes["strictness"] = data.strictness
    changes.update(data.schedule)  # time zone, hour, weekday: empty ones keep theirs
    if current is None or returning:
        # The consent record: when, and in the operator's words how, they asked.
        changes["consent_at"] = now
        changes["consent_source"] = (f"{data.consent} (via {source})" if data.consent else source)[:100]
        changes["unsubscribed_at"] = None
    if current is None or not current.confirmed_at:
        changes["confirmed_at"] = now
    return changes


def upsert_confirmed(data: SubscriberInput, source: str, resubscribe: bool = False) -> tuple[Subscriber, bool]:
    """One operator-added subscriber (add_subscriber); subscribers.imports does many at once
    with the same rules."""
    email = clean_email(data.email)
    check_not_suppressed(email, Suppression.reason_for(email))
    clean = clean_input(data)
    with transaction.atomic():
        existing = Subscriber.objects.select_for_update().filter(email__iexact=clean.email).first()
        changes = confirmed_changes(existing, clean, source, resubscribe, timezone.now())
        subscriber = existing or Subscriber(email=clean.email)
        for name, value in changes.items():
            setattr(subscriber, name, value)
        subscriber.save()
        subscriber.topics.set(clean.topics)
        add_likes(subscriber, clean.like)
    return subscriber, existing is None


def add_likes(subscriber: Subscriber, like: str) -> None:
    """The row's liked papers: known ones are liked now, unknown ids fetched from arXiv by a
    task."""
    if like:
        try:
            likes.add_liked(subscriber, like)
        except likes.LikesRefused as exc:
            raise ValidationError(f"like: {exc}") from None
