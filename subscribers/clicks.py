"""Clicks on the papers' links in digests and private feeds, through /r/<token>/.

A click link names who it was made for (a delivery, or the subscriber of a private feed), a
paper and which of its links (subscribers.tokens); the signature proves Paperpost made that
link, so the paper and its URL are read from the database, never from the link: /r/ is no open
redirect. One click is kept per email and paper (and per subscriber and paper from the feed);
a subscriber with plain links (their choice in the preference centre) is never counted, even
by the links of an older email. There is no open tracking.

A counted click is also a weak "more like this": record() hands it to the subscriber's learned
model as a "clicked" reaction (subscribers.learning.record_click, weight 0.3, only when they
said nothing explicit about the paper). clicked_paper_ids() lists a subscriber's clicks."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Max

from digest.models import Paper

from . import learning
from .emails import absolute, paper_targets
from .models import Click, Delivery, Subscriber
from .tokens import read_click_token


@dataclass(frozen=True)
class Target:
    url: str
    paper: Paper
    subscriber: Subscriber | None  # None: the person deleted their data since
    delivery: Delivery | None


def resolve(token: str) -> Target | None:
    """Where a click link leads, or None for a link Paperpost did not make."""
    parsed = read_click_token(token)
    if parsed is None:
        return None
    kind, owner, paper_id, link = parsed
    paper = Paper.objects.filter(pk=paper_id).first()
    if paper is None:
        return None
    page = absolute(paper.get_absolute_url())
    if kind == "e":
        delivery = Delivery.objects.select_related("subscriber").filter(pk=owner).first()
        targets = paper_targets(paper)
        url = targets[link] if link < len(targets) else targets[0]
        subscriber = delivery.subscriber if delivery else None
    else:
        delivery, url = None, page
        subscriber = Subscriber.objects.filter(pk=owner).first()
    if not url.startswith(("https://", "http://")):
        url = page  # a stored link of another scheme never becomes a redirect
    return Target(url, paper, subscriber, delivery)


def record(target: Target) -> bool:
    """Keep the click (once per email and paper, or feed and paper). Returns False when it
    is not counted: the person chose plain links, or is gone."""
    if target.subscriber is None or target.subscriber.plain_links:
        return False
    Click.objects.bulk_create(
        [Click(subscriber=target.subscriber, paper=target.paper, delivery=target.delivery,
               via=Click.Via.EMAIL if target.delivery else Click.Via.FEED)],
        ignore_conflicts=True,
    )
    learning.record_click(target.subscriber.pk, target.paper.pk)
    return True


def clicked_paper_ids(subscriber_id: int, since: dt.datetime | None = None) -> list[int]:
    """The papers a subscriber clicked (from emails or their feed), most recent first."""
    clicks = Click.objects.filter(subscriber_id=subscriber_id)
    if since is not None:
        clicks = clicks.filter(at__gte=since)
    rows = clicks.values("paper_id").annotate(last=Max("at")).order_by("-last")
    return [row["paper_id"] for row in rows]
