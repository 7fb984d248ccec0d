"""The whole subscriber path in a real browser (Debian's chromium via Playwright) against
a live server, with every email going through the real SMTP test server."""

import re
import urllib.request

import pytest
from django.core.management import call_command

from subscribers.models import Subscriber
from tests.conftest import SCREENSHOTS
from tests.services import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def links(received, prefix):
    text = received.message.get_body(("plain",)).get_content()
    return re.findall(r"(https?://\S+" + re.escape(prefix) + r"\S+/)", text)


def test_subscribe_confirm_change_preferences_and_one_click_unsubscribe(site, page, smtp_server, batch):
    inbox = smtp_server.handler
    # 1. Subscribe on the landing page, with JavaScript doing nothing special.
    page.goto(site.url + "/")
    page.screenshot(path=str(SCREENSHOTS / "landing.png"), full_page=False)
    page.fill("#id_email", "reader@example.org")
    page.click("summary:has-text('Choose topics')")
    page.check("text=LoRA & parameter-efficient fine-tuning")
    page.click("button:has-text('Subscribe')")
    page.wait_for_selector("text=Check your inbox")
    assert Subscriber.objects.get().status == "pending"

    # 2. The confirmation email arrives over SMTP; its link opens a page with a button.
    wait_for(lambda: inbox.to("reader@example.org"), 10, "the confirmation email")
    [confirmation] = inbox.to("reader@example.org")
    assert confirmation.message["Subject"] == "Confirm your Paperpost subscription"
    [confirm_url] = links(confirmation, "/confirm/")
    page.goto(confirm_url)
    assert Subscriber.objects.get().status == "pending"  # opening the link is not enough
    page.click("button:has-text('Confirm my subscription')")
    page.wait_for_selector("text=You are subscribed")
    assert Subscriber.objects.get().status == "active"

    # 3. The welcome email links to the preference centre; change topics and keywords there.
    wait_for(lambda: len(inbox.to("reader@example.org")) == 2, 10, "the welcome email")
    welcome = inbox.to("reader@example.org")[1]
    manage_url, unsubscribe_url = links(welcome, "/u/")  # and, like every digest, a way out
    assert unsubscribe_url.endswith("/unsubscribe/")
    assert welcome.message["List-Unsubscribe"].strip().strip("<>") == unsubscribe_url
    page.goto(manage_url)
    page.check("text=Machine unlearning")
    page.fill("#id_keywords", '"knowledge distillation", -survey')
    page.fill("#id_max_papers", "5")
    page.click("button:has-text('Save preferences')")
    page.wait_for_selector("text=Your preferences are saved")
    assert page.locator("#preview-heading").is_visible()
    assert page.locator("text=Label-Agnostic Forgetting").count() >= 1
    subscriber = Subscriber.objects.get()
    assert sorted(t.slug for t in subscriber.topics.all()) == ["lora-peft", "unlearning"]
    assert subscriber.keywords == "knowledge distillation, -survey" and subscriber.max_papers == 5

    # 4. A digest is sent; unsubscribe with the RFC 8058 one-click POST from its header,
    #    the way a mailbox provider does it: no cookies, no CSRF token, no redirect.
    call_command("send_digest", "--wait")
    digest = inbox.to("reader@example.org")[-1]
    assert digest.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    target = digest.message["List-Unsubscribe"].strip().strip("<>")
    assert target.startswith(site.url)
    request = urllib.request.Request(target, data=b"List-Unsubscribe=One-Click", method="POST",
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(request) as response:
        assert response.status == 200 and response.geturl() == target
    assert Subscriber.objects.get().status == "unsubscribed"
    page.goto(manage_url)
    page.wait_for_selector("text=You are unsubscribed")
    page.screenshot(path=str(SCREENSHOTS / "preferences-unsubscribed.png"), full_page=True)
