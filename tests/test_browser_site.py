"""A visitor reading the archive and searching, and a curator reordering, previewing and
publishing, in a real browser (Debian's chromium via Playwright) against a live server.
Screenshots go to var/screenshots/."""

import pytest

from digest.ingest.pipeline import ingest_bytes, ingest_path
from digest.models import Batch
from tests.conftest import SCREENSHOTS, data_file

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_visitor_reads_the_archive_and_searches(site, page, batch):
    ingest_path(data_file("arxiv_rss_new/distill_rss_cs.CL_2026-04-27_trimmed3items.xml"))
    Batch.objects.get(date="2026-04-27").publish()
    page.goto(site.url + "/")
    page.wait_for_selector("text=Papers of Monday 27 April 2026")
    page.screenshot(path=str(SCREENSHOTS / "landing-page.png"), full_page=False)
    # Back one day to the 93 papers of 19 March, 30 a page; the paper sought is on the second.
    page.click("a[rel=prev]")
    page.wait_for_selector("text=Papers of Thursday 19 March 2026")
    assert page.locator("ol.papers > li").count() == 30
    page.click("nav.pager >> text=2")
    page.wait_for_selector("text=page 2 of 4")
    # A paper's own page, with its day and similar papers.
    page.click("text=LoLDU: Low-Rank Adaptation via Lower-Diag-Upper Decomposition")
    page.wait_for_selector("h1:has-text('LoLDU')")
    assert page.locator("#similar-heading").is_visible()
    # Search from the header.
    page.fill("#q", "unlearning")
    page.press("#q", "Enter")
    page.wait_for_selector("text=papers found for “unlearning”")
    assert "Unlearning" in page.locator("ol.papers li h3").first.inner_text()
    page.screenshot(path=str(SCREENSHOTS / "search.png"), full_page=False)
    # The week, through the navigation.
    page.click("header >> text=This week")
    page.wait_for_selector("h1:has-text('Week 18 of 2026')")


def test_a_curator_reorders_previews_and_publishes(site, page, page_bytes, make_subscriber, django_user_model):
    ingest_bytes(page_bytes)
    batch = Batch.objects.get()
    make_subscriber("reader@example.org", topics=["lora-peft"])
    django_user_model.objects.create_superuser("curator", "curator@example.org", "correct horse battery")
    page.goto(site.url + "/admin/")
    page.fill("#id_username", "curator")
    page.fill("#id_password", "correct horse battery")
    page.click("input[type=submit]")
    page.wait_for_selector("#dashboard")
    page.screenshot(path=str(SCREENSHOTS / "admin-dashboard.png"), full_page=True)
    # Reorder: the last paper (AutoDiffusion) to the top, then save.
    page.goto(f"{site.url}/admin/digest/batch/{batch.pk}/change/")
    page.fill("#id_entries-92-position", "0")
    page.check("#id_entries-10-featured")
    page.click("input[name=_continue]")
    page.wait_for_selector("text=was changed successfully")
    # Preview the email as the subscriber.
    page.click("text=Preview the email")
    page.select_option("#id_subscriber", label="reader@example.org")
    page.click("input[value=Preview]")
    page.wait_for_selector("#preview-subject")
    assert "LoLDU" in page.locator("#preview-text").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "admin-preview.png"), full_page=False)
    # Publish, confirming on the way.
    page.goto(f"{site.url}/admin/digest/batch/{batch.pk}/change/")
    page.click("text=Publish…")
    page.wait_for_selector("text=93 papers will appear")
    page.click("input[value='Yes, publish']")
    page.wait_for_selector("text=Published the batch of 2026-03-19")
    page.goto(site.url + "/")
    ranks = page.locator("ol.papers li h3")
    assert "featured" in ranks.nth(0).inner_text()  # the featured entry leads
    assert ranks.nth(1).inner_text().startswith("AutoDiffusion")  # then the reordered one
