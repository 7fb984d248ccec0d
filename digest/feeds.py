"""RSS 2.0 and Atom feeds, as django.contrib.syndication Feed classes: all published papers
and one topic's papers. A subscriber's private feed (subscribers.feeds) builds on these.

Descriptions are HTML in both formats (RSS <description>, Atom summary type="html"), so the
plain-text abstract is HTML-escaped once here and XML-escaped by Django: a reader shows
"$a<b$" or "<script>" as the literal text it is. GUIDs are the paper's key, stable across
rebuilds. Responses carry ETag and Last-Modified, and answer conditional GETs with 304."""

from __future__ import annotations

import datetime as dt
import hashlib

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.core.cache import cache
from django.http import Http404, HttpResponse, HttpResponseNotModified
from django.urls import reverse
from django.utils import timezone
from django.utils.feedgenerator import Atom1Feed, Rss201rev2Feed
from django.utils.html import escape
from django.utils.http import http_date, parse_http_date_safe

from .models import Batch, Topic
from .pagecache import memo, page_version
from .selection import published_entries, topic_papers

FEED_ITEMS = 100


def absolute(path: str) -> str:
    return settings.SITE_URL + path


def entry_time(batch: Batch) -> dt.datetime:
    return batch.published_at or dt.datetime.combine(batch.date, dt.time(0, 0), tzinfo=dt.timezone.utc)


class FeedItem:
    """A paper as it appears in a feed (with the day it was published and why, if any)."""

    def __init__(self, paper, when: dt.datetime, why: str = ""):
        self.paper, self.when, self.why = paper, when, why


class PaperFeed(Feed):
    feed_type = Rss201rev2Feed
    title = "Paperpost: all papers"
    description = "Every paper Paperpost publishes, newest day first."

    def link(self):
        return absolute(reverse("home"))

    def items(self):
        entries = (
            published_entries().select_related("batch").order_by("-batch__date", "-featured", "position")[:FEED_ITEMS]
        )
        return [FeedItem(e.paper, entry_time(e.batch)) for e in entries]

    def item_title(self, item):
        return item.paper.title

    def item_description(self, item):
        text = escape(item.paper.abstract)
        if item.why:
            text = f"<p><strong>Why:</strong> {escape(item.why)}</p><p>{text}</p>"
        return f"{text}<p>{escape(item.paper.signal_line)}</p>"

    def item_link(self, item):
        # Absolute with SITE_URL (Django would use the request's host otherwise).
        return absolute(item.paper.get_absolute_url())

    def item_guid(self, item):
        return absolute(f"/paper/{item.paper.identifier}/")

    item_guid_is_permalink = False

    def item_pubdate(self, item):
        return item.when

    def item_updateddate(self, item):
        return max(item.when, item.paper.updated_at)

    def item_author_name(self, item):
        return item.paper.author_line or None

    def item_categories(self, item):
        return item.paper.categories or ()

    def item_enclosures(self, item):
        return []


class PaperAtomFeed(PaperFeed):
    feed_type = Atom1Feed
    subtitle = PaperFeed.description


class TopicFeed(PaperFeed):
    def get_object(self, request, slug):
        return Topic.objects.filter(slug=slug, active=True).first() or _not_found()

    def title(self, topic):
        return f"Paperpost: {topic.name}"

    def description(self, topic):
        return f"Recent papers matching {topic.name}."

    def link(self, topic):
        return absolute(topic.get_absolute_url())

    def items(self, topic):
        latest = Batch.latest_published()
        when = entry_time(latest) if latest else timezone.now()
        return [FeedItem(paper, when, why) for paper, why in topic_papers(topic)]


class TopicAtomFeed(TopicFeed):
    feed_type = Atom1Feed

    def subtitle(self, topic):
        return self.description(topic)


def _not_found():
    raise Http404("No such feed")


def cached_feed(feed_class, private_version=None):
    """A feed view served from the cache per content version, with ETag, Last-Modified and
    304 answers to conditional GETs. A private feed passes `private_version(**kwargs)`: what
    besides the content makes its version (it raises Http404 for a bad link); such feeds are
    marked private and noindex, and stay out of the per-process memo."""
    feed = feed_class()
    private = private_version is not None

    def view(request, **kwargs):
        version = page_version()  # the papers and their community counts
        if private:
            version += private_version(**kwargs)
        key = "feed:" + hashlib.sha256(f"{feed_class.__name__}:{kwargs}:{version}".encode()).hexdigest()
        etag = '"' + key[5:37] + '"'
        cached = None if private else memo.get(key)
        if cached is None:
            cached = cache.get(key)
            if cached is None:
                response = feed(request, **kwargs)
                cached = (response.content, response["Content-Type"], timezone.now().timestamp())
                cache.set(key, cached, settings.PAGE_CACHE_SECONDS)
            if not private:  # the per-process store holds public feeds only: there are few of them
                memo.set(key, cached)
        content, content_type, modified = cached
        if request.headers.get("If-None-Match") == etag or (
            "If-None-Match" not in request.headers
            and (since := parse_http_date_safe(request.headers.get("If-Modified-Since", ""))) is not None
            and int(modified) <= since
        ):
            response = HttpResponseNotModified()
        else:
            response = HttpResponse(content, content_type=content_type)
        response["ETag"] = etag
        response["Last-Modified"] = http_date(modified)
        if private:
            response["X-Robots-Tag"] = "noindex"
            response["Cache-Control"] = "private"
        return response

    return view
