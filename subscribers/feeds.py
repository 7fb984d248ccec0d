"""A subscriber's private feed: the papers and reasons of their digests, day by day, at a
signed link (/feed/u/<token>/). It is a digest.feeds.PaperFeed with other items."""

from __future__ import annotations

from django.http import Http404
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed

from digest.feeds import FeedItem, PaperFeed, absolute, cached_feed, entry_time
from digest.models import Batch

from .emails import click_url_base
from .preview import personal_content
from .tokens import click_tokens, make_token, subscriber_for
from .why import why_html

DAYS = 7
FEEDBACK_LINKS = (("more", "More like this"), ("fewer", "Fewer like this"), ("not", "Not interested"))


def _subscriber(token: str):
    subscriber = subscriber_for(token, "feed")
    if subscriber is None:
        raise Http404("No such feed")
    return subscriber


class SubscriberFeed(PaperFeed):
    """The subscriber's matches in the last DAYS published batches: what their digests
    hold, papers per day capped at their papers-per-email, with why."""

    def get_object(self, request, token):
        return _subscriber(token)

    def title(self, subscriber):
        return "Paperpost: your papers"

    def description(self, subscriber):
        return "The papers that match your Paperpost topics and keywords, day by day."

    def link(self, subscriber):
        return absolute(reverse("home"))

    def items(self, subscriber):
        out = []
        interests = subscriber.interests()
        # Each item links to the feedback pages ("more/fewer like this", "not interested"),
        # which show a button: feed readers prefetch links too.
        self._feedback_token = make_token(subscriber, "feedback")
        for batch in Batch.objects.published().order_by("-date")[:DAYS]:
            content = personal_content(subscriber, batch.date, batch.date)
            chosen, _ = content.select(interests, subscriber.max_papers)
            for m in chosen:
                item = FeedItem(content.papers[m.paper_id], entry_time(batch), m.explain())
                item.match = m
                out.append(item)
        if not subscriber.plain_links:
            base = click_url_base()
            for item in out:
                item.click_url = f"{base}{click_tokens('f', subscriber.pk, item.paper.pk)[0]}/"
        return out

    def item_link(self, item):
        # Through /r/ (one click counted per paper), unless they chose plain links.
        return getattr(item, "click_url", None) or super().item_link(item)

    def item_description(self, item):
        match = item.match
        community = all(r.kind == "community" for r in match.reasons)
        return render_to_string("subscribers/_feed_item.html", {
            "paper": item.paper, "why": "" if community else why_html(match.reasons),
            "links": [(label, absolute(reverse("feedback", args=[self._feedback_token, action, item.paper.pk])))
                      for action, label in FEEDBACK_LINKS],
        })


class SubscriberAtomFeed(SubscriberFeed):
    feed_type = Atom1Feed


def private_version(token: str) -> str:
    """A private feed changes with the content and with the subscriber's preferences."""
    subscriber = _subscriber(token)
    return f"-{subscriber.pk}-{int(subscriber.updated_at.timestamp())}"


rss = cached_feed(SubscriberFeed, private_version=private_version)
atom = cached_feed(SubscriberAtomFeed, private_version=private_version)
