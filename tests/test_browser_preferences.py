"""The preference centre in a real browser (Debian's chromium via Playwright) on a live
server, with a day of real arXiv papers: type an "about me", paste liked arXiv ids, watch
the preview change, see what was learned and remove a learned word; at desktop and phone
widths, without horizontal scrolling."""

import datetime as dt

import pytest
from django.utils import timezone

from digest.ingest.formats import parse
from digest.ingest.records import ParseResult
from digest.ingest.store import store
from digest.models import Batch
from subscribers.models import Learning
from subscribers.tokens import make_token
from tests.conftest import SCREENSHOTS, data_file

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FEED = "arxiv_rss_new/aioarxiv_rss_20archives_2024-11-28_full1504items.xml"
LIKED = "2411.17784\nhttps://arxiv.org/abs/2411.17957v1\n2411.18109, 2411.18263\narXiv:2411.18350"


def preview_titles(page) -> list[str]:
    return page.locator("ol.preview li > a").all_inner_texts()


def no_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_about_me_liked_papers_the_preview_and_removing_a_learned_word(site, page, make_subscriber):
    records = parse(data_file(FEED).read_bytes()).records[:700]
    day = timezone.localdate() - dt.timedelta(days=1)
    store(ParseResult(format="arxiv_rss", records=records), date=day)
    Batch.objects.get(date=day).publish()
    subscriber = make_subscriber(keywords="quantum error correction")
    page.goto(f"{site.url}/u/{make_token(subscriber, 'manage')}/")
    before = preview_titles(page)

    # 1. An "about me" in the person's own words: the preview follows it after saving.
    page.fill("#id_about", "I work on image generation with diffusion models: editing, super-resolution, "
                           "synthetic training data.")
    page.check("text=Broad: passing mentions too")
    page.click("button:has-text('Save preferences')")
    page.wait_for_selector("text=Your preferences are saved")
    after_about = preview_titles(page)
    assert after_about != before
    assert page.locator("span.why:has-text('close to your “about me”')").count() >= 1

    # 2. Liked papers pasted as ids and links: liked at once, listed, and learned from.
    page.fill("#id_papers", LIKED)
    page.click("button:has-text('Add these papers')")
    page.wait_for_selector("text=5 papers added to the papers you like")
    assert page.locator("ul.learned-papers >> text=Diffusion Autoencoders for Few-shot Image Generation").count() == 1
    assert page.locator("span.why:has-text('because you liked')").count() >= 1
    assert preview_titles(page) != after_about
    assert page.locator("text=Your digests use what it learned").count() == 1
    page.screenshot(path=str(SCREENSHOTS / "preferences-learned.png"), full_page=True)

    # 3. Remove a learned word: it leaves the list and the stored model, for good.
    first = page.locator("ul.learned-terms li").first
    word = first.locator("input[name=word]").get_attribute("value")
    stem = first.locator("input[name=term]").get_attribute("value")
    first.locator("button:has-text('Remove')").click()
    page.wait_for_selector(f"text=Forgotten: “{word}”")
    assert word not in page.locator("ul.learned-terms").inner_text().split("Remove")
    row = Learning.objects.get(subscriber=subscriber)
    assert stem in row.forgotten_terms and stem not in {t for t, _ in row.engine_model().terms}

    # 4. The same page on a phone.
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        assert no_horizontal_scroll(page), width
    page.screenshot(path=str(SCREENSHOTS / "preferences-390.png"), full_page=False)
