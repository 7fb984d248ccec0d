"""The community end to end in a real browser (Debian's chromium via Playwright) against a
live server: a visitor signs in from the link the real SMTP server received, picks a name,
upvotes (which changes the trending order), submits a paper and comments, all with JavaScript
off; a curator approves the submission and hides the comment in the admin. Then every
community page is checked on a 390 px phone. Screenshots go to var/screenshots/."""

import datetime as dt
import re

import pytest
from django.utils import timezone

from community.models import Comment, Submission, Vote
from digest.ingest.pipeline import ingest_bytes, ingest_path
from digest.models import Batch, BatchEntry
from tests.conftest import SCREENSHOTS, data_file
from tests.services import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in_link(inbox, address):
    wait_for(lambda: inbox.to(address), 10, "the sign-in email")
    [message] = inbox.to(address)
    assert message.message["Subject"] == "Your Paperpost sign-in link"
    text = message.message.get_body(("plain",)).get_content()
    [url] = re.findall(r"(https?://\S+/login/\S+/)", text)
    return url


def trending_titles(page, site):
    page.goto(site.url + "/trending/")
    return [t.strip() for t in page.locator("ol.papers li h3 a").all_inner_texts()]


def test_a_reader_signs_in_votes_submits_and_comments_and_a_curator_moderates(
        site, browser, smtp_server, page_bytes, django_user_model):
    today = timezone.localdate()
    ingest_bytes(page_bytes, date=today - dt.timedelta(days=1))
    Batch.objects.get(date=today - dt.timedelta(days=1)).publish()
    # Three arXiv papers of two days ago: one of them is what the reader submits for today.
    ingest_path(data_file("arxiv_rss_new/distill_rss_cs.CL_2026-04-27_trimmed3items.xml"),
                date=today - dt.timedelta(days=2))
    older = Batch.objects.get(date=today - dt.timedelta(days=2))
    older.publish()
    submitted = older.entries.order_by("position").first().paper
    django_user_model.objects.create_superuser("curator", "curator@example.org", "correct horse battery")

    reader = browser.new_context(viewport={"width": 1200, "height": 900}, java_script_enabled=False)
    page = reader.new_page()
    page.set_default_timeout(15_000)

    # 1. Sign in from the mailed link; the link's page only shows a button.
    page.goto(site.url + "/")
    page.click("header >> text=Sign in")
    page.fill("#id_email", "ada@example.org")
    page.click("button:has-text('Email me a sign-in link')")
    page.wait_for_selector("text=Check your inbox")
    page.goto(sign_in_link(smtp_server.handler, "ada@example.org"))
    page.wait_for_selector("text=Press the button to sign in")
    page.click("button:has-text('Sign me in')")
    page.wait_for_selector("#id_display_name")
    page.fill("#id_display_name", "Ada")
    page.click("button:has-text('Save the name')")
    page.wait_for_selector("text=You are now “Ada”")
    page.screenshot(path=str(SCREENSHOTS / "community-me.png"), full_page=False)

    # 2. Upvote the fifth paper of the trending list: it moves to the top.
    before = trending_titles(page, site)
    fifth = before[4]
    page.locator("ol.papers li").nth(4).locator("button.vote").click()
    page.wait_for_selector("button.vote.voted")
    after = trending_titles(page, site)
    assert after[0] == fifth and after[1:5] == before[:4]
    assert Vote.objects.get().user.email == "ada@example.org"
    page.screenshot(path=str(SCREENSHOTS / "community-trending.png"), full_page=False)

    # 3. Submit a paper of two days ago for today's list.
    page.click("header >> text=Submit")
    page.fill("#id_paper", f"https://arxiv.org/abs/{submitted.arxiv_id}")
    page.click("button:has-text('Submit')")
    page.wait_for_selector("text=waits for a curator")
    submission = Submission.objects.get()
    assert submission.status == "pending" and submission.batch.date == today

    # 4. Comment on the voted paper, with a link.
    page.goto(site.url + "/trending/")
    page.locator("ol.papers li h3 a").first.click()
    page.fill("#id_body", "The ablation in section 4 answers my question: https://example.org/notes")
    page.click("button:has-text('Post the comment')")
    page.wait_for_selector(".comment-body >> text=The ablation in section 4")
    link = page.locator(".comment-body a")
    assert link.get_attribute("rel") == "nofollow ugc noopener"
    paper_url = page.url.split("#")[0]

    # 5. A curator approves the submission, hides the comment and publishes today's list.
    curator = browser.new_context(viewport={"width": 1280, "height": 900})
    admin = curator.new_page()
    admin.goto(site.url + "/admin/")
    admin.fill("#id_username", "curator")
    admin.fill("#id_password", "correct horse battery")
    admin.click("input[type=submit]")
    admin.goto(site.url + "/admin/community/submission/")
    admin.wait_for_selector(f"text={submitted.title[:30]}")
    admin.screenshot(path=str(SCREENSHOTS / "community-queue.png"), full_page=False)
    admin.check("input[name=_selected_action]")
    admin.select_option("select[name=action]", "approve")
    admin.click("button[name=index]")
    admin.wait_for_selector("text=Approved 1 submission")
    admin.goto(site.url + "/admin/community/comment/")
    admin.check("input[name=_selected_action]")
    admin.select_option("select[name=action]", "hide")
    admin.click("button[name=index]")
    admin.wait_for_selector("text=Hid 1 comment")
    assert Comment.objects.get().hidden
    todays = Batch.objects.get(date=today)
    admin.goto(f"{site.url}/admin/digest/batch/{todays.pk}/publish/")
    admin.click("input[value='Yes, publish']")
    admin.wait_for_selector(f"text=Published the batch of {today}")
    curator.close()
    assert BatchEntry.objects.get(batch=todays, paper=submitted).submitted_by == "Ada"

    # 6. The list shows the submission; the hidden comment is gone for others, marked for its author.
    page.goto(site.url + "/")
    page.wait_for_selector("text=submitted by Ada")
    page.goto(paper_url)
    page.wait_for_selector("text=hidden by a curator")
    anonymous = browser.new_context(java_script_enabled=False).new_page()
    anonymous.goto(paper_url)
    assert anonymous.locator("text=The ablation in section 4").count() == 0
    assert anonymous.locator("#discussion").is_visible()

    # 7. On a 390 px phone, no community page scrolls sideways.
    phone = browser.new_context(viewport={"width": 390, "height": 844}, java_script_enabled=True,
                                storage_state=reader.storage_state())
    small = phone.new_page()
    for path in ["/", "/trending/", paper_url.replace(site.url, ""), "/login/", "/me/", "/submit/",
                 f"/api/papers/{submitted.arxiv_id}/"]:
        small.goto(site.url + path)
        width = small.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{path} is {width} px wide on a 390 px phone"
    small.goto(paper_url)
    small.screenshot(path=str(SCREENSHOTS / "community-paper-phone.png"), full_page=True)
    phone.close()
    reader.close()
