"""What happened after the digests went out, for the Edition admin page and the dashboard:
emails delivered, clicks per paper (subscribers.clicks; no pixels, no open tracking),
click-through rate per topic, and the unsubscribes and complaints within 7 days of an email.

- A paper's click-through rate: the emails with a click on it over the emails that held it
  (the sent-papers ledger).
- A topic's: the emails with any click over the emails sent, among the topic's followers.
- An unsubscribe or a complaint counts for an email when it came within 7 days of it; a
  complaint is the ESP's webhook event on the row, or the subscriber marked complained then."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone

from digest.models import Paper

from .models import Click, Delivery, Edition, SentPaper, Subscriber

WINDOW = dt.timedelta(days=7)
TOP = 15


@dataclass(frozen=True)
class Rate:
    label: str
    hits: int  # emails with a click
    out_of: int  # emails

    @property
    def percent(self) -> float:
        return 100.0 * self.hits / self.out_of if self.out_of else 0.0


@dataclass
class Engagement:
    sent: int = 0
    clicks: int = 0
    clicked: int = 0  # emails with at least one click
    unsubscribed: int = 0
    complained: int = 0
    papers: list[Rate] = field(default_factory=list)  # most clicked first
    topics: list[Rate] = field(default_factory=list)  # highest rate first

    @property
    def percent(self) -> float:
        return 100.0 * self.clicked / self.sent if self.sent else 0.0


def edition_engagement(edition: Edition) -> Engagement:
    return engagement(edition.deliveries.filter(status=Delivery.Status.SENT))


def recent_engagement(days: int = 7, now: dt.datetime | None = None) -> Engagement:
    """The digests sent in the last `days` days, together."""
    since = (now or timezone.now()) - dt.timedelta(days=days)
    return engagement(Delivery.objects.filter(status=Delivery.Status.SENT, sent_at__gte=since))


def engagement(sent: QuerySet[Delivery]) -> Engagement:
    ids = sent.values("pk")
    clicks = Click.objects.filter(delivery__in=ids)
    found = Engagement(
        sent=sent.count(),
        clicks=clicks.count(),
        clicked=clicks.values("delivery_id").distinct().count(),
        unsubscribed=sent.filter(subscriber__unsubscribed_at__gte=F("sent_at"),
                                 subscriber__unsubscribed_at__lt=F("sent_at") + WINDOW).count(),
        complained=sent.filter(
            Q(esp_event="complained", esp_event_at__lt=F("sent_at") + WINDOW)
            | Q(subscriber__status=Subscriber.Status.COMPLAINED, subscriber__updated_at__gte=F("sent_at"),
                subscriber__updated_at__lt=F("sent_at") + WINDOW)
        ).count(),
    )
    by_paper = dict(clicks.values_list("paper_id").annotate(n=Count("delivery_id", distinct=True))
                    .order_by("-n")[:TOP])
    held = dict(SentPaper.objects.filter(delivery__in=ids, paper_id__in=list(by_paper))
                .values_list("paper_id").annotate(n=Count("id")))
    titles = dict(Paper.objects.filter(pk__in=list(by_paper)).values_list("pk", "title"))
    found.papers = [Rate(titles.get(pk, f"paper {pk}"), n, max(n, held.get(pk, 0))) for pk, n in by_paper.items()]
    emails = dict(sent.filter(subscriber__topics__isnull=False).values_list("subscriber__topics__name")
                  .annotate(n=Count("id")))
    hits = dict(sent.filter(subscriber__topics__isnull=False, clicks__isnull=False)
                .values_list("subscriber__topics__name").annotate(n=Count("id", distinct=True)))
    found.topics = sorted((Rate(name, hits.get(name, 0), n) for name, n in emails.items()),
                          key=lambda rate: (-rate.percent, -rate.out_of, rate.label))
    return found
