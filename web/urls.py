"""Every URL of Paperpost (the root URLconf; the list is a contract, see README "Pages and URLs")."""

import datetime as dt

from django.conf import settings
from django.contrib import admin
from django.contrib.sitemaps import views as sitemap_views
from django.urls import include, path, register_converter
from django.urls.converters import get_converters

from digest import feeds
from subscribers import feeds as subscriber_feeds
from subscribers import views as subscriber_views

from . import ops, views
from .sitemaps import SITEMAPS


class DateConverter:
    regex = r"\d{4}-\d{2}-\d{2}"

    def to_python(self, value):
        return dt.date.fromisoformat(value)

    def to_url(self, value):
        return value.isoformat() if hasattr(value, "isoformat") else str(value)


if "isodate" not in get_converters():  # tests that override settings import this module again
    register_converter(DateConverter, "isodate")

urlpatterns = [
    # First: community routes under paper/<id>/... must win over the paper page's catch-all.
    path("", include("community.urls")),
    path("", views.home, name="home"),
    path("papers/", views.pick, name="pick"),
    path("papers/<isodate:day>/", views.day, name="day"),
    path("papers/week/<str:week>/", views.week, name="week"),
    path("papers/month/<str:month>/", views.month, name="month"),
    path("best/<str:period>/", views.best, name="best"),
    path("paper/<path:identifier>/", views.paper, name="paper"),
    path("topics/", views.topics, name="topics"),
    path("topics/<slug:slug>/", views.topic, name="topic"),
    path("search/", views.search, name="search"),
    path("feed/", feeds.cached_feed(feeds.PaperFeed), name="feed"),
    path("feed/atom/", feeds.cached_feed(feeds.PaperAtomFeed), name="feed_atom"),
    path("feed/topics/<slug:slug>/", feeds.cached_feed(feeds.TopicFeed), name="topic_feed"),
    path("feed/topics/<slug:slug>/atom/", feeds.cached_feed(feeds.TopicAtomFeed), name="topic_feed_atom"),
    path("feed/u/<str:token>/", subscriber_feeds.rss, name="subscriber_feed"),
    path("feed/u/<str:token>/atom/", subscriber_feeds.atom, name="subscriber_feed_atom"),
    path("sitemap.xml", sitemap_views.index, {"sitemaps": SITEMAPS}, name="sitemap"),
    path("sitemap-<section>.xml", sitemap_views.sitemap, {"sitemaps": SITEMAPS},
         name="django.contrib.sitemaps.views.sitemap"),
    path("robots.txt", ops.robots, name="robots"),
    path("healthz", ops.healthz, name="healthz"),
    path("subscribe/", views.subscribe, name="subscribe"),
    path("confirm/<str:token>/", subscriber_views.confirm, name="confirm"),
    path("u/<str:token>/", subscriber_views.manage, name="manage"),
    path("u/<str:token>/unsubscribe/", subscriber_views.unsubscribe, name="unsubscribe"),
    path("u/<str:token>/email/", subscriber_views.change_email, name="change_email"),
    path("u/<str:token>/export/", subscriber_views.export, name="export"),
    path("u/<str:token>/delete/", subscriber_views.delete, name="delete"),
    path("u/<str:token>/edition/<int:edition_id>/", subscriber_views.edition_matches, name="edition_matches"),
    path("u/<str:token>/likes/", subscriber_views.add_likes, name="add_likes"),
    path("u/<str:token>/learned/", subscriber_views.forget, name="forget_learned"),
    path("u/<str:token>/react/", subscriber_views.react, name="react"),
    path("f/<str:token>/<int:target>/", subscriber_views.feedback_choices, name="feedback_choices"),
    path("f/<str:token>/<str:action>/<int:target>/", subscriber_views.feedback, name="feedback"),
    path("email/<str:token>/", subscriber_views.email_change, name="email_change"),
    path("r/<str:token>/", subscriber_views.click, name="click"),
    path("admin/", admin.site.urls),
]

# ESP bounce and complaint webhooks exist only with a secret: unauthenticated, anyone could
# post a fake hard bounce and cut an address off the list for good.
if settings.ANYMAIL.get("WEBHOOK_SECRET"):
    urlpatterns.append(path("anymail/", include("anymail.urls")))

handler500 = "web.ops.server_error"
