from django.contrib.sitemaps import Sitemap
from django.urls import reverse

from digest.models import Batch, Paper, Topic


class DaySitemap(Sitemap):
    changefreq = "daily"

    def items(self):
        return Batch.objects.published().order_by("-date")

    def location(self, batch):
        return reverse("day", args=[batch.date])

    def lastmod(self, batch):
        return batch.updated_at


class PaperSitemap(Sitemap):
    changefreq = "weekly"
    limit = 5000

    def items(self):
        return (
            Paper.objects.filter(entries__batch__status=Batch.Status.PUBLISHED, entries__hidden=False)
            .distinct().order_by("-id").only("key", "arxiv_id", "updated_at")
        )

    def lastmod(self, paper):
        return paper.updated_at


class TopicSitemap(Sitemap):
    changefreq = "daily"

    def items(self):
        return Topic.objects.filter(active=True).order_by("position")


class PageSitemap(Sitemap):
    changefreq = "daily"

    def items(self):
        return ["home", ("best", "week"), ("best", "month")]

    def location(self, item):
        return reverse(item) if isinstance(item, str) else reverse(item[0], args=[item[1]])


SITEMAPS = {"pages": PageSitemap, "days": DaySitemap, "papers": PaperSitemap, "topics": TopicSitemap}
