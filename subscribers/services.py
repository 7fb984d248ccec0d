"""Creating and updating subscribers from operator input (commands, CSV import)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from digest.matching import parse_terms
from digest.models import Topic

from .models import Frequency, Subscriber, Suppression, normalize_email

@dataclass
class SubscriberInput:
    email: str
    keywords: str = ""
    topics: str = ""
    categories: str = ""
    authors: str = ""
    frequency: str = Frequency.DAILY


def _split(value: str) -> list[str]:
    return [v.strip() for v in (value or "").replace(";", ",").split(",") if v.strip()]


def clean_categories(value: str) -> str:
    cats = _split(value)
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


def upsert_confirmed(data: SubscriberInput, source: str) -> tuple[Subscriber, bool]:
    email = normalize_email(data.email)
    validate_email(email)
    reason = Suppression.reason_for(email)
    if reason:
        # Deleted, bounced or complained: only a new confirmation through the site may
        # bring the address back, not an operator's import.
        raise ValidationError(f"{email} is suppressed ({reason}); it can only come back by confirming on the site")
    if data.frequency not in Frequency.values:
        raise ValidationError(f"frequency must be one of {', '.join(Frequency.values)}")
    topics = resolve_topics(data.topics)
    categories = clean_categories(data.categories)
    keywords = ", ".join(t.text if not t.exclude else f"-{t.text}" for t in parse_terms(data.keywords))
    now = timezone.now()
    with transaction.atomic():
        subscriber = Subscriber.objects.filter(email__iexact=email).first()
        created = subscriber is None
        if created:
            subscriber = Subscriber(email=email, consent_at=now, consent_source=source)
        subscriber.status = Subscriber.Status.ACTIVE
        subscriber.confirmed_at = subscriber.confirmed_at or now
        subscriber.keywords = keywords
        subscriber.categories = categories
        subscriber.authors = ", ".join(_split(data.authors))
        subscriber.frequency = data.frequency
        subscriber.save()
        subscriber.topics.set(topics)
    return subscriber, created
