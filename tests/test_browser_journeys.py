"""The reader's and the curator's journeys in a real browser (Debian's chromium via
Playwright) against a live server, at a desktop width (1280 px) and a phone's (390 px). On
every page of the way the page must not scroll sideways; screenshots go to var/screenshots/.

Reader: the first screen of the demo data, the topics index, subscribing with only an
address, the week, search with an exclusion, and the other public pages (a paper, an
unsubscribe link for a long address, an invalid link, the digest email itself).
Curator: the dashboard's shortcut to the day's draft, dragging a paper to the top, featuring
one, a note in its popover, search within the batch, publishing, sending, the edition page."""

import datetime as dt
import re

import pytest
from django.core.management import call_command

from digest.ingest.pipeline import ingest_path
from digest.models import Batch, BatchEntry, Paper
from subscribers.models import Delivery, Edition, Subscriber
from subscribers.tokens import make_token
from tests.conftest import ROOT, SCREENSHOTS
from tests.services import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
WIDTHS = [1280, 390]
SAMPLES = ROOT / "samples"
THURSDAY, FRIDAY = dt.date(2026, 7, 30), dt.date(2026, 7, 31)


def load_demo(publish_friday: bool = True) -> None:
    """The data of `make run` (scripts/sample-data.sh)."""
    ingest_path(SAMPLES / "daily-papers-page.txt", date=THURSDAY)
    for name in ("hf-daily-papers-2026-07-31.json", "arxiv-rss-2024-11-28-ml30.xml"):
        ingest_path(SAMPLES / name, date=FRIDAY)
    Batch.objects.get(date=THURSDAY).publish()
    if publish_friday:
        Batch.objects.get(date=FRIDAY).publish()


@pytest.fixture(params=WIDTHS, ids=lambda w: f"{w}px")
def tab(request, browser):
    """A page at one width; the Content-Security-Policy watched as in conftest's `page`.
    Thumbnails are not fetched from the network (there is none in tests): they fail, as
    they would offline, and the page must still look right."""
    width = request.param
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.route("https://cdn-thumbnails.huggingface.co/**", lambda route: route.abort())
    blocked = []
    page.on("console", lambda msg: blocked.append(msg.text) if "Content Security Policy" in msg.text else None)
    page.width = width
    yield page
    context.close()
    assert not blocked, f"the Content-Security-Policy blocked: {blocked}"


def fits(page, what: str) -> None:
    """The page is no wider than the window: nothing scrolls sideways."""
    scroll, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert scroll <= inner, f"{what} is {scroll} px wide in a {inner} px window"


def shot(page, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}-{page.width}.png"), full_page=False)


def found(page) -> int:
    return int(re.search(r"(\d+) papers? found", page.inner_text("main")).group(1))


def test_a_readers_journey(site, tab, smtp_server):
    load_demo()
    page = tab
    # 1. The first screen: several days, authors, votes, links, topic tags.
    page.goto(site.url + "/")
    page.wait_for_selector("h1:has-text('Papers of Friday 31 July 2026')")
    first = page.locator("ol.papers > li").first
    assert "OmniScope" in first.locator("h3").inner_text()
    assert "Jinsen Su" in first.inner_text() and "3 on HF" in first.inner_text()
    assert first.locator("a:has-text('arXiv')").count() == 1 and page.locator("ol.papers .tags a").count() >= 5
    assert page.locator("a[rel=prev]").inner_text().endswith("Thu 30 Jul")
    fits(page, "the first screen")
    shot(page, "reader-first-screen")

    # 2. The topics index, from the header, then one topic.
    page.click("header >> text=Topics")
    page.wait_for_selector("h1:has-text('Topics')")
    fits(page, "the topics index")
    shot(page, "reader-topics")
    page.click("ul.topics >> text=Large language models")
    page.wait_for_selector("h1:has-text('Large language models')")
    assert page.locator("ol.papers > li").count() > 5
    fits(page, "a topic page")

    # 3. Subscribe with only an address: the first step is the address, nothing else.
    page.goto(site.url + "/")
    page.fill("#id_email", f"only-an-address-{page.width}@example.org")
    page.click(".subscribe button:has-text('Subscribe')")
    page.wait_for_selector("text=Check your inbox")
    fits(page, "the check-your-inbox page")
    subscriber = Subscriber.objects.get(email=f"only-an-address-{page.width}@example.org")
    assert subscriber.status == "pending" and not subscriber.topics.exists() and not subscriber.keywords

    # 4. The week: both days, each paper once, most votes first.
    page.goto(site.url + "/")
    page.click("nav.switch >> text=Week")
    page.wait_for_selector("h1:has-text('Week 31 of 2026')")
    assert "128 papers from 2 days" in page.inner_text("main")
    assert page.locator("ol.papers > li h3").first.inner_text().startswith("β-OPSD")  # 17 upvotes
    fits(page, "the week")
    shot(page, "reader-week")
    page.fill("#pick-date", "2026-07-30")
    page.click("form.picker button")
    page.wait_for_url("**/papers/week/2026-W31/")

    # 5. Search from the header, then leave the surveys out.
    page.fill("#q", "compression")
    page.press("#q", "Enter")
    page.wait_for_selector("text=papers found")
    with_surveys = found(page)
    page.fill("#q2", "compression -survey")
    page.press("#q2", "Enter")
    page.wait_for_selector("text=found for “compression -survey”")
    titles = " ".join(page.locator("ol.papers > li h3").all_inner_texts())
    assert 0 < found(page) < with_surveys and "Survey" not in titles
    fits(page, "the search results")
    shot(page, "reader-search")

    # 6. The other public pages: a paper, an unsubscribe link of a long address, an invalid
    #    link (the site's own 404), the preference centre.
    page.goto(site.url + Paper.objects.get(arxiv_id="2607.23193").get_absolute_url())
    page.wait_for_selector("h1:has-text('OmniScope')")
    fits(page, "a paper's page")
    long = Subscriber.objects.create(email="a.reader.with.a.rather.long.address.indeed@subdomain.example.org",
                                     status=Subscriber.Status.ACTIVE)
    page.goto(f"{site.url}/u/{make_token(long, 'unsubscribe')}/unsubscribe/")
    page.wait_for_selector("h1:has-text('Unsubscribe')")
    fits(page, "the unsubscribe page")
    shot(page, "reader-unsubscribe")
    page.goto(site.url + "/u/not-a-valid-link/unsubscribe/")
    page.wait_for_selector("h1:has-text('Not found')")
    fits(page, "an invalid link's page")
    page.goto(f"{site.url}/u/{make_token(long, 'manage')}/")
    page.wait_for_selector("h1:has-text('Your preferences')")
    fits(page, "the preference centre")

    # 7. The digest email itself (an address alone: the community's top papers), at this width.
    call_command("send_digest", "--wait")
    wait_for(lambda: smtp_server.handler.to(long.email), 10, "the digest")
    html = smtp_server.handler.to(long.email)[-1].message.get_body(("html",)).get_content()
    inbox = page.context.new_page()  # about:blank, as a mail client shows it: no site policy
    inbox.width = page.width
    inbox.set_content(html)
    fits(inbox, "the digest email")
    shot(inbox, "reader-email")


def test_a_curators_journey(site, tab, make_subscriber, django_user_model):
    load_demo(publish_friday=False)
    batch = Batch.objects.get(date=FRIDAY)
    make_subscriber("reader@example.org", topics=["llm"])
    django_user_model.objects.create_superuser("curator", "curator@example.org", "correct horse battery")
    page = tab
    page.goto(site.url + "/admin/")
    page.fill("#id_username", "curator")
    page.fill("#id_password", "correct horse battery")
    page.click("input[type=submit]")
    # 1. The dashboard: the panel's own name, and the day to work on with its next steps.
    page.wait_for_selector("#today")
    assert "Paperpost" in page.inner_text("#site-name") and "Django" not in page.inner_text("header")
    assert "Next to publish: Friday 31 July 2026" in page.inner_text("#today")
    assert "1 daily subscriber" in page.inner_text("#today") and "1 daily subscribers" not in page.inner_text("#today")
    fits(page, "the dashboard")
    shot(page, "curator-dashboard")
    page.click("#today >> text=Review")
    page.wait_for_selector("#batch-entries")
    fits(page, "the batch page")
    shot(page, "curator-batch")

    # 2. Drag the third paper to the top; the positions renumber; saving keeps the order.
    rows = page.locator("#batch-entries tr.entry")
    fifth = rows.nth(2).get_attribute("data-title")
    page.evaluate("document.querySelector('#batch-entries').scrollIntoView()")
    rows.nth(2).locator(".handle").drag_to(rows.nth(0), target_position={"x": 10, "y": 2})
    assert page.locator("#batch-entries tr.entry").first.get_attribute("data-title") == fifth
    positions = page.locator("#batch-entries input.position")
    assert [positions.nth(i).input_value() for i in range(6)] == ["1", "2", "3", "4", "5", "6"]
    # 3. Feature the third, and give it a note in its popover.
    third = page.locator("#batch-entries tr.entry").nth(2)
    third_title = third.get_attribute("data-title")
    third.locator("td.toggle input[name$='-featured']").check()
    third.locator("button.note-button").click()
    note = third.locator(".note-popover textarea")
    note.wait_for(state="visible")
    note.fill("Read the ablations.")
    third.locator(".note-popover button:has-text('Done')").click()
    page.click("input[name=_continue]")
    page.wait_for_selector("text=was changed successfully")
    ordered = list(batch.entries.order_by("position").select_related("paper"))
    assert ordered[0].paper.title.startswith(fifth[:40].rstrip("…"))
    assert [e.position for e in ordered] == list(range(1, len(ordered) + 1))
    featured = BatchEntry.objects.get(batch=batch, featured=True)
    assert featured.paper.title.startswith(third_title[:40].rstrip("…")) and featured.note == "Read the ablations."

    # 4. Search within the batch.
    page.fill("#batch-q", "OmniScope")
    page.click(".batch-search input[type=submit]")
    page.wait_for_selector("text=Papers matching “OmniScope” (1)")
    assert page.locator("#batch-entries tr.entry").count() == 1
    fits(page, "a search within the batch")
    page.click("text=Show all papers")

    # 5. Publish, after a confirmation that names the batch once and says what will happen.
    page.click(".object-tools >> text=Publish…")
    page.wait_for_selector("text=35 papers will appear")
    assert page.locator("h1").count() == 1 and str(batch.date.year) in page.inner_text(".breadcrumbs")
    assert "Batches" in page.inner_text(".breadcrumbs")
    fits(page, "the publish confirmation")
    page.click("input[value='Yes, publish']")
    page.wait_for_selector("text=Published the batch of 2026-07-31")
    batch.refresh_from_db()
    assert batch.is_published

    # 6. Send, then the edition's page: counts, a link to every delivery, nothing editable.
    page.click(".object-tools >> text=Send now…")
    page.wait_for_selector("text=1 daily subscriber gets their matches")
    page.click("input[value='Yes, send now']")
    page.wait_for_selector("text=1 delivery queued")
    wait_for(lambda: Delivery.objects.filter(status="sent").exists(), 20, "the delivery")
    page.reload()
    edition = Edition.objects.get()
    assert page.locator(f"a[href$='?edition__id__exact={edition.pk}']").first.is_visible()
    assert page.locator("input[name=_save]").count() == 0 and page.locator("select[name=status]").count() == 0
    assert page.locator(".deletelink").count() == 0
    assert "sent 1" in page.inner_text("#content-main")
    fits(page, "the edition page")
    shot(page, "curator-edition")
