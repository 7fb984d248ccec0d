"""What a reader sees: a day, a week or a month in the curator's order or by votes, the date
picker, topic tags and the topics index, thumbnails, abstracts cut once, and search with
phrases, -exclusions and filters. On the real seed page, the samples of `make run` and the
full 1,504-paper feed."""

import datetime as dt
import re

import pytest

from digest.ingest.pipeline import ingest_path
from digest.models import Batch, BatchEntry, Paper
from digest.search import parse_query
from digest.selection import Period, topic_tags
from digest.text import shorten
from tests.conftest import ROOT

pytestmark = pytest.mark.django_db
SAMPLES = ROOT / "samples"


@pytest.fixture
def demo():
    """The data of `make run` (scripts/sample-data.sh): Thu 30 and Fri 31 July 2026."""
    ingest_path(SAMPLES / "daily-papers-page.txt", date=dt.date(2026, 7, 30))
    for name in ("hf-daily-papers-2026-07-31.json", "arxiv-rss-2024-11-28-ml30.xml"):
        ingest_path(SAMPLES / name, date=dt.date(2026, 7, 31))
    for batch in Batch.objects.all():
        batch.publish()


def ranks(html: str) -> list[str]:
    """The titles of a list, in order."""
    return re.findall(r'<span class="rank">\d+</span>\s*<div class="item">.*?<h3><a href="[^"]+">([^<]+)</a>', html, re.S)


def test_the_first_screen_shows_authors_votes_links_topics_and_thumbnails(client, demo):
    response = client.get("/")
    html = response.content.decode()
    assert "Papers of Friday 31 July 2026" in html and "35 papers" in html
    first = ranks(html)[0]
    assert first.startswith("OmniScope")  # the Hugging Face papers come first, in their order
    assert "Jinsen Su, Yongdong Luo" in html and "3 on HF" in html and "★ 3" in html and "2 comments on HF" in html
    assert 'href="https://arxiv.org/abs/2607.23193">arXiv</a>' in html and ">PDF</a>" in html
    assert '<img src="https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/2607.23193.png"' in html
    tags = topic_tags(Paper.objects.filter(entries__batch__date=dt.date(2026, 7, 31)))
    assert tags and any(f'<li><a href="{t.get_absolute_url()}">' in html for ts in tags.values() for t in ts)
    assert 'rel="prev" href="/papers/2026-07-30/"' in html  # several days
    assert len(response.content) < 150_000


def test_a_day_by_votes(client, demo):
    html = client.get("/papers/2026-07-31/?sort=votes").content.decode()
    titles = ranks(html)
    assert titles[0].startswith("β-OPSD")  # 17 upvotes, then 11, 3, 2, 0
    assert titles[1].startswith("Σ-Mem")
    assert 'aria-current="true">Most votes' in html


def test_the_week_and_the_month_gather_their_days_once_each(client, demo):
    week = client.get("/papers/week/2026-W31/").content.decode()
    assert "Week 31 of 2026, 27 Jul – 2 Aug 2026" in week and "128 papers from 2 days" in week
    assert ranks(week)[0].startswith("β-OPSD")  # a week is by votes unless asked otherwise
    curated = client.get("/papers/week/2026-W31/?sort=curated").content.decode()
    assert ranks(curated)[0].startswith("OmniScope")  # the newest day first, in its order
    month = client.get("/papers/month/2026-07/").content.decode()
    assert "July 2026" in month and "128 papers from 2 days" in month
    # The switch keeps to the newest published day of the period.
    assert 'href="/papers/2026-07-31/">Day</a>' in month and 'href="/papers/week/2026-W31/">Week</a>' in month
    assert client.get("/papers/week/2026-W99/").status_code == 404
    assert client.get("/papers/month/2026-13/").status_code == 404
    assert "No papers were published in this week" in client.get("/papers/week/2026-W20/").content.decode()


def test_the_date_picker_goes_to_the_nearest_published_day(client, demo):
    assert client.get("/papers/?date=2026-08-09")["Location"] == "/papers/2026-07-31/"
    assert client.get("/papers/?date=2026-07-01")["Location"] == "/papers/2026-07-30/"
    assert client.get("/papers/?date=2026-07-29&view=week")["Location"] == "/papers/week/2026-W31/"
    assert client.get("/papers/?date=2026-07-29&view=month")["Location"] == "/papers/month/2026-07/"
    assert client.get("/papers/?date=nonsense")["Location"] == "/"


def test_the_topics_index_is_linked_from_every_page(client, demo):
    html = client.get("/topics/").content.decode()
    assert "LoRA &amp; parameter-efficient fine-tuning" in html and "papers in the last 30 days" in html
    assert 'href="/topics/lora-peft/"' in html and 'href="/?topic=lora-peft#subscribe-heading"' in html
    for url in ("/", "/papers/2026-07-30/", "/search/?q=lora", "/topics/unlearning/", "/no/such/page/"):
        assert 'href="/topics/">Topics</a>' in client.get(url).content.decode()


def test_a_topic_page_subscribes_to_that_topic(client, demo):
    html = client.get("/topics/unlearning/").content.decode()
    form = html[html.index('id="subscribe-heading"'):html.index("</form>", html.index('id="subscribe-heading"'))]
    assert 'action="/subscribe/"' in form and 'name="topics"' in form and 'type="email"' in form


def test_topic_tags_are_the_topics_a_paper_matches(demo):
    loldu = Paper.objects.get(title__startswith="LoLDU")
    names = [t.slug for t in topic_tags([loldu])[loldu.pk]]
    assert "lora-peft" in names
    mirage = Paper.objects.get(title__startswith="Mirage")
    assert "lora-peft" not in [t.slug for t in topic_tags([mirage]).get(mirage.pk, [])]


def test_a_paper_page_shows_what_the_source_holds(client, demo):
    paper = Paper.objects.get(arxiv_id="2607.23193")
    paper.ai_summary, paper.ai_keywords = "Query-guided token compression for audio and video.", ["token pruning"]
    paper.save()
    html = client.get(paper.get_absolute_url()).content.decode()
    assert "AI summary" in html and "Query-guided token compression" in html and "token pruning" in html
    assert "3 on HF" in html and "★ 3 GitHub stars" in html and "2 comments on Hugging Face" in html
    assert 'href="https://huggingface.co/papers/2607.23193"' in html
    assert all(f'href="{t.get_absolute_url()}"' in html for t in topic_tags([paper]).get(paper.pk, []))
    listed = client.get("/").content.decode()
    assert "AI summary:</span> Query-guided token compression" in listed


def test_thumbnails_come_only_from_the_allowed_hosts(client, demo, settings):
    Paper.objects.filter(arxiv_id="2607.27958").update(thumbnail="https://tracker.example/pixel.png")
    html = client.get("/").content.decode()
    assert "tracker.example" not in html
    assert "https://cdn-thumbnails.huggingface.co" in client.get("/").headers["Content-Security-Policy"]


def test_abstracts_are_cut_on_a_word_with_one_ellipsis():
    text = "Despite their wide-spread success, Text-to-Image models still struggle to produce images."
    cut = shorten(text, 40)
    assert cut == "Despite their wide-spread success…" and len(cut) <= 41
    assert shorten(text, 500) == text and shorten("a" * 100, 10) == "a" * 10 + "…"
    assert shorten("one two,  three", 12) == "one two…"


def test_period_keys_match_the_json_api():
    assert Period.of("week", dt.date(2026, 7, 31)).key == "2026-W31"
    assert Period.of("week", dt.date(2027, 1, 1)).key == "2026-W53"
    assert Period.of("month", dt.date(2026, 7, 31)).key == "2026-07"
    assert (Period.of("month", dt.date(2026, 2, 10)).end) == dt.date(2026, 2, 28)


# --- Search ---------------------------------------------------------------------------------------


def test_the_query_language():
    q = parse_query('lora "knowledge distillation" -survey -"large language" "single"')
    assert q.words == ["lora", "single"] and q.phrases == [["knowledge", "distillation"]]
    assert q.excluded == [["survey"], ["large", "language"]]
    assert not parse_query("-survey").has_terms


def test_search_leaves_out_excluded_words(client, batch):
    everything = client.get("/search/", {"q": "compression"}).content.decode()
    without = client.get("/search/", {"q": "compression -survey"}).content.decode()
    n_all = int(re.search(r"(\d+) papers? found", everything).group(1))
    n_without = int(re.search(r"(\d+) papers? found", without).group(1))
    assert 0 < n_without < n_all
    assert "A Survey" in " ".join(ranks(everything)) and "Survey" not in " ".join(ranks(without))
    assert "Add a word to look for" in client.get("/search/", {"q": "-survey"}).content.decode()


def test_search_finds_phrases_in_order(client, batch):
    phrase = client.get("/search/", {"q": '"knowledge distillation"'}).content.decode()
    reversed_ = client.get("/search/", {"q": '"distillation knowledge"'}).content.decode()
    assert "0 papers found" in reversed_ and "0 papers found" not in phrase


def test_search_filters_by_days_topic_and_category(client, demo):
    def found(**params):
        html = client.get("/search/", params).content.decode()
        return int(re.search(r"(\d+) papers? found", html).group(1)), ranks(html)

    all_days, _ = found(q="learning")
    thursday, _ = found(q="learning", **{"from": "2026-07-30", "to": "2026-07-30"})
    friday, _ = found(q="learning", **{"from": "2026-07-31"})
    assert thursday + friday >= all_days > thursday > 0 and friday > 0
    in_topic, titles = found(q="learning", topic="unlearning")
    assert 0 < in_topic < all_days and all("nlearn" in t or "orget" in t for t in titles)
    cv, titles = found(category="cs.CV")
    assert cv > 5 and "SnapMem" in " ".join(titles)
    assert found(category="cs.*")[0] > cv
    assert found(q="pruning", category="cs.LG")[0] >= 1
    topic_only, _ = found(topic="lora-peft")
    assert topic_only > 0


def test_hidden_entries_and_drafts_stay_out_of_every_list(client, demo):
    BatchEntry.objects.filter(paper__arxiv_id="2607.23193").update(hidden=True)
    from digest.pagecache import bump_content_version

    bump_content_version()
    for url in ("/", "/papers/week/2026-W31/", "/papers/month/2026-07/?sort=curated"):
        html = client.get(url).content.decode()
        assert ranks(html) and not any("OmniScope" in t for t in ranks(html)), url
    assert "0 papers found" in client.get("/search/?q=OmniScope").content.decode()


def test_the_new_pages_cost_a_bounded_number_of_queries(client, demo, django_assert_max_num_queries):
    from django.core.cache import cache

    from digest.corpus import current_stats

    current_stats()  # fitted once per process (the first page pays it), then reused
    cache.clear()
    for url in ("/papers/week/2026-W31/", "/papers/month/2026-07/?sort=curated", "/topics/", "/topics/lora-peft/",
                "/search/?q=learning&topic=llm", "/search/?category=cs.CV&from=2026-07-01"):
        with django_assert_max_num_queries(12):
            assert client.get(url).status_code == 200
