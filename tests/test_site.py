"""The public site and the feeds, on the real seed page and the full 1,504-paper feed."""

import datetime as dt
import email.utils
import re

import feedparser
import pytest
from django.core.cache import cache
from django.test import Client

from digest.ingest.pipeline import ingest_bytes, ingest_path
from digest.models import Batch, BatchEntry, Paper, Topic
from subscribers.tokens import make_token
from tests.conftest import data_file

FULL = "arxiv_rss_new/aioarxiv_rss_20archives_2024-11-28_full1504items.xml"
pytestmark = pytest.mark.django_db


@pytest.fixture
def full_batch():
    ingest_path(data_file(FULL))
    batch = Batch.objects.get(date=dt.date(2024, 11, 28))
    batch.publish()
    return batch


# --- Pages ------------------------------------------------------------------------------------


def test_home_shows_the_day_like_the_daily_papers_page(client, batch):
    paper = Paper.objects.get(title__startswith="LoLDU")
    entry = BatchEntry.objects.get(paper=paper)
    entry.featured, entry.note = True, "A clean LoRA variant."
    entry.save()
    Paper.objects.filter(pk=paper.pk).update(upvotes=42)
    html = client.get("/").content.decode()
    first = html.index('<span class="rank">1</span>')
    assert "LoLDU" in html[first:first + 400] and "featured" in html[first:first + 600]  # featured first
    assert "42 on HF" in html and "Curator's note" in html and "A clean LoRA variant." in html
    # Each abstract once, cut on a word boundary with one ellipsis (the paper page has it whole).
    assert html.count("Low-Rank Adaptation (LoRA) has sought") == 1 and "…</p>" in html
    assert 'href="https://github.com/SKDDJ/LoLDU">Code</a>' in html
    assert html.index("Get trending papers in your email inbox!") < html.index("<ol class=\"papers\"")
    assert 'action="/subscribe/"' in html and "csrfmiddlewaretoken" in html
    # 30 papers a page, the day's count said.
    assert "Papers of Thursday 19 March 2026" in html and html.count('<span class="rank">') == 30 and "93 papers" in html
    assert '<link rel="canonical" href="http://127.0.0.1:8000/papers/2026-03-19/">' in html
    assert 'property="og:title"' in html and "<title>Daily papers, Thu 19 Mar 2026 · Paperpost</title>" in html


def test_home_without_a_published_batch_says_so(client):
    response = client.get("/")
    assert response.status_code == 200
    assert "No papers have been published yet" in response.content.decode()


def test_the_cached_home_page_still_carries_a_working_csrf_token(batch):
    client = Client(enforce_csrf_checks=True)
    first = client.get("/")
    second = Client(enforce_csrf_checks=True).get("/")
    tokens = [re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', r.content.decode()).group(1) for r in (first, second)]
    assert tokens[0] != tokens[1]  # one page, cached, each visitor their own token
    response = client.post("/subscribe/", {"email": "x@example.org", "keywords": "LoRA", "frequency": "daily",
                                           "csrfmiddlewaretoken": tokens[0]})
    assert response.status_code == 200 and "Check your inbox" in response.content.decode()


def test_a_curators_edit_shows_at_once(client, batch):
    client.get("/")
    entry = BatchEntry.objects.get(paper__title__startswith="DreamSync")
    entry.hidden = True
    entry.save()
    assert "DreamSync" not in client.get("/").content.decode()


@pytest.mark.parametrize("batch_fixture", ["batch", "full_batch"])
def test_a_page_costs_a_bounded_number_of_queries_whatever_the_batch_size(request, batch_fixture, client,
                                                                         django_assert_max_num_queries):
    from digest.corpus import current_stats

    day = request.getfixturevalue(batch_fixture)
    current_stats()  # ranking's corpus statistics, fitted once per process, used by topic tags
    cache.clear()
    with django_assert_max_num_queries(8):
        response = client.get(f"/papers/{day.date}/")
    assert response.status_code == 200
    with django_assert_max_num_queries(8):
        client.get("/")
    with django_assert_max_num_queries(8):
        client.get("/feed/")
    with django_assert_max_num_queries(12):
        client.get("/search/?q=learning")


def test_long_days_are_paginated_and_stay_small(client, full_batch):
    response = client.get("/")
    html = response.content.decode()
    assert html.count('<span class="rank">') == 30 and "page 1 of 32" in html
    assert len(response.content) < 150_000
    page2 = client.get("/?page=2").content.decode()
    assert '<span class="rank">31</span>' in page2 and 'href="/papers/2024-11-28/?page=3"' in page2


def test_previous_and_next_day_navigation(client, batch, full_batch):
    html = client.get("/papers/2026-03-19/").content.decode()
    assert 'rel="prev" href="/papers/2024-11-28/"' in html
    assert 'rel="next" href="/papers/2026-03-19/"' in client.get("/papers/2024-11-28/").content.decode()


def test_best_of_the_week_and_month_lead_to_the_week_and_month_by_votes(client, batch):
    Paper.objects.filter(title__startswith="IncreLoRA").update(upvotes=99)
    assert client.get("/best/week/")["Location"] == "/papers/week/2026-W12/?sort=votes"
    for period in ("week", "month"):
        html = client.get(f"/best/{period}/", follow=True).content.decode()
        first = html.index('<span class="rank">1</span>')
        assert "IncreLoRA" in html[first:first + 300]
    assert client.get("/best/year/").status_code == 404


def test_a_paper_page_with_its_days_and_similar_papers(client, batch):
    paper = Paper.objects.get(title__startswith="LoLDU")
    html = client.get(paper.get_absolute_url()).content.decode()
    assert "In the papers of" in html and "/papers/2026-03-19/" in html
    similar = html[html.index("Similar papers"):]
    assert "IncreLoRA" in similar or "NOLA" in similar
    assert 'property="og:type" content="article"' in html and 'rel="canonical"' in html
    assert client.get("/paper/title:no-such-paper/").status_code == 404


def test_arxiv_papers_live_at_their_id(client, full_batch):
    paper = Paper.objects.filter(arxiv_id="2411.17700").get()
    assert paper.get_absolute_url() == "/paper/2411.17700/"
    assert client.get("/paper/2411.17700/").status_code == 200


def test_unpublished_papers_are_not_public(client, page_bytes):
    ingest_bytes(page_bytes)
    paper = Paper.objects.first()
    assert client.get(paper.get_absolute_url()).status_code == 404
    assert "DreamSync" not in client.get("/").content.decode()
    assert client.get("/papers/2026-03-19/").status_code == 404


def test_a_topic_page_with_recent_papers_feed_and_subscribe_button(client, batch):
    html = client.get("/topics/unlearning/").content.decode()
    assert "Label-Agnostic Forgetting" in html and "Why: Machine unlearning" in html
    assert 'href="/feed/topics/unlearning/"' in html and "Subscribe to Machine unlearning" in html
    prefilled = client.get("/?topic=unlearning").content.decode()
    topic = Topic.objects.get(slug="unlearning")
    assert re.search(rf'value="{topic.pk}"[^>]*checked', prefilled)


def test_search_ranks_title_matches_first_and_paginates(client, batch):
    html = client.get("/search/?q=unlearning").content.decode()
    assert "3 papers found" in html or "4 papers found" in html
    first = html.index('<span class="rank">1</span>')
    assert "Unlearning" in html[first:first + 300]
    authors = Paper.objects.get(title__startswith="LoLDU")
    authors.authors = ["Yiming Shi"]
    authors.save()
    assert "LoLDU" in client.get("/search/?q=Yiming").content.decode()
    many = client.get("/search/?q=learning").content.decode()
    assert "Page 1 of" in many and "Next" in many


@pytest.mark.parametrize("query", ['"', "NEAR(a b)", "a OR", "*", "title:x", "'; DROP TABLE digest_paper; --", "ü ß", "(((("])
def test_search_never_fails_on_odd_input(client, batch, query):
    response = client.get("/search/", {"q": query})
    assert response.status_code == 200


def test_search_sees_only_published_papers(client, batch, page_bytes):
    Paper.objects.create(key="title:hidden draft paper", title="Zyzzyva draft paper", abstract="zyzzyva")
    assert "0 papers found" in client.get("/search/?q=zyzzyva").content.decode()


def test_sitemap_robots_and_errors(client, batch):
    sitemap = client.get("/sitemap.xml").content.decode()
    assert "sitemap-papers.xml" in sitemap and "sitemap-days.xml" in sitemap
    papers = client.get("/sitemap-papers.xml").content.decode()
    assert papers.count("<url>") == 93
    robots = client.get("/robots.txt").content.decode()
    assert "Disallow: /u/" in robots and "Sitemap: http://127.0.0.1:8000/sitemap.xml" in robots
    missing = client.get("/no/such/page/")
    assert missing.status_code == 404 and "Not found" in missing.content.decode()


def test_healthz_reports_the_database_and_the_broker(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "in-process"}


# --- Feeds ------------------------------------------------------------------------------------------


def parse(response):
    return feedparser.parse(response.content)


@pytest.mark.parametrize("url, version", [("/feed/", "rss20"), ("/feed/atom/", "atom10")])
def test_the_feeds_are_valid(client, full_batch, url, version):
    feed = parse(client.get(url))
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == version and len(feed.entries) == 100
    entry = feed.entries[0]
    assert entry.link.startswith("http://127.0.0.1:8000/paper/")
    assert entry.published_parsed[:3] == (2024, 11, 28) or entry.get("updated_parsed")
    assert entry.id.startswith("http://127.0.0.1:8000/paper/")


def test_guids_are_stable_across_rebuilds(client, full_batch):
    first = [e.id for e in parse(client.get("/feed/")).entries]
    cache.clear()
    Paper.objects.filter(arxiv_id="2411.17700").update(upvotes=3)  # any change, a new cache version
    second = [e.id for e in parse(client.get("/feed/")).entries]
    assert first == second


def test_feed_content_is_escaped(client, batch):
    Paper.objects.filter(title__startswith="LoLDU").update(
        title="LoLDU <script>alert(1)</script>", abstract="When $a<b$ and <img src=x onerror=alert(2)> & more")
    Batch.objects.get().publish()
    raw = client.get("/feed/").content.decode()
    assert "<script>" not in raw and "<img" not in raw
    feed = feedparser.parse(raw)
    assert not feed.bozo
    entry = next(e for e in feed.entries if e.title.startswith("LoLDU"))
    assert entry.title == "LoLDU <script>alert(1)</script>"  # the title as text
    assert "$a&lt;b$" in entry.summary and "&lt;img" in entry.summary  # HTML showing the text


def test_conditional_get_answers_304(client, batch):
    first = client.get("/feed/")
    etag, modified = first["ETag"], first["Last-Modified"]
    assert email.utils.parsedate_to_datetime(modified)
    assert client.get("/feed/", HTTP_IF_NONE_MATCH=etag).status_code == 304
    assert client.get("/feed/", HTTP_IF_MODIFIED_SINCE=modified).status_code == 304
    assert client.get("/feed/", HTTP_IF_NONE_MATCH='"other"').status_code == 200
    BatchEntry.objects.filter(paper__title__startswith="DreamSync").update(hidden=True)
    from digest.pagecache import bump_content_version

    bump_content_version()
    assert client.get("/feed/", HTTP_IF_NONE_MATCH=etag).status_code == 200


def test_topic_feeds(client, batch):
    for url, version in [("/feed/topics/unlearning/", "rss20"), ("/feed/topics/unlearning/atom/", "atom10")]:
        feed = parse(client.get(url))
        assert not feed.bozo and feed.version == version
        assert {e.title.split(":")[0] for e in feed.entries} >= {"Label-Agnostic Forgetting"}
    assert client.get("/feed/topics/no-such-topic/").status_code == 404


def test_a_subscribers_private_feed_mirrors_their_email(client, batch, make_subscriber):
    from digest.selection import PeriodContent

    subscriber = make_subscriber(topics=["lora-peft"], max_papers=5)
    feed = parse(client.get(f"/feed/u/{make_token(subscriber, 'feed')}/"))
    assert not feed.bozo
    chosen, _ = PeriodContent(batch.date, batch.date).select(subscriber.interests(), 5)
    assert [e.title for e in feed.entries] == [Paper.objects.get(pk=m.paper_id).title for m in chosen]
    assert "Why:" in feed.entries[0].summary
    assert client.get(f"/feed/u/{make_token(subscriber, 'manage')}/").status_code == 404
    assert client.get("/feed/u/garbage/").status_code == 404
    atom = parse(client.get(f"/feed/u/{make_token(subscriber, 'feed')}/atom/"))
    assert not atom.bozo and atom.version == "atom10"


def test_a_change_made_by_another_process_shows_within_the_version_memo(client, batch, settings, monkeypatch):
    """Each web process reuses the content version it read for PAGE_VERSION_MEMO_SECONDS; a
    publish by another process (here: the shared cache changed behind this one's back) shows
    once that has passed, while this process's own changes show at once."""
    from digest import pagecache

    settings.PAGE_VERSION_MEMO_SECONDS = 30
    assert "DreamSync" in client.get("/").content.decode()
    BatchEntry.objects.filter(paper__title__startswith="DreamSync").update(hidden=True)
    cache.set(pagecache.VERSION_KEY, "elsewhere", 600)  # another process bumped the version
    assert "DreamSync" in client.get("/").content.decode()  # still this process's memo
    clock = pagecache.time.monotonic()
    monkeypatch.setattr(pagecache.time, "monotonic", lambda: clock + 31)
    assert "DreamSync" not in client.get("/").content.decode()
    BatchEntry.objects.filter(paper__title__startswith="DreamSync").update(hidden=False)
    pagecache.bump_content_version()  # this process's own change: seen on the next request
    assert "DreamSync" in client.get("/").content.decode()

