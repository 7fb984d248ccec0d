"""Sending through an ESP's API (django-anymail): what anymail is given (its test backend),
and the whole path against a local server that answers like Postmark (tests/fake_esp.py):
batches, accepted and rejected answers, 429 with Retry-After, 5xx, a request that gets no
answer, and the ESP's webhook events landing on the delivery rows."""

import base64
import json

import pytest
from anymail.backends.test import EmailBackend as AnymailTestBackend
from anymail.exceptions import AnymailAPIError
from anymail.message import AnymailRecipientStatus
from django.core import mail
from django.core.management import CommandError, call_command
from django.test import Client

from subscribers.models import Delivery, Subscriber, Suppression
from tests.fake_esp import TOKEN, FakePostmark

pytestmark = pytest.mark.django_db(transaction=True)

# What the scripted test backend answers per recipient: "rejected", "api-error", or sent.
SCRIPT: dict[str, str] = {}


class ScriptedTestBackend(AnymailTestBackend):
    """anymail's test backend, answering per recipient as SCRIPT says."""

    def post_to_esp(self, payload, message):
        answer = SCRIPT.get(message.to[0])
        if answer == "rejected":
            message.anymail_test_response = {
                "recipient_status": {message.to[0]: AnymailRecipientStatus(message_id=None, status="rejected")}}
        elif answer == "api-error":
            message.anymail_test_response = AnymailAPIError("the ESP is having a bad day")
        return super().post_to_esp(payload, message)


@pytest.fixture
def quick_retries(settings):
    settings.DELIVERY_RETRY_BASE_SECONDS, settings.DELIVERY_RETRY_MAX_SECONDS = 0.05, 1.5


@pytest.fixture
def anymail_test(settings, quick_retries):
    settings.EMAIL_BACKEND = "tests.test_esp.ScriptedTestBackend"
    SCRIPT.clear()
    mail.outbox = []
    yield
    SCRIPT.clear()


@pytest.fixture
def postmark(settings, quick_retries):
    server = FakePostmark()
    server.start()
    settings.EMAIL_BACKEND = "paperpost.esp.PostmarkBackend"
    settings.ANYMAIL = {**settings.ANYMAIL, "POSTMARK_SERVER_TOKEN": TOKEN, "POSTMARK_API_URL": server.url}
    settings.ESP_BATCH_SIZE = 10
    yield server
    server.stop()


def readers(make_subscriber, n: int) -> list[str]:
    emails = [f"reader{i:02d}@example.org" for i in range(n)]
    for email in emails:
        make_subscriber(email, topics=["llm"], max_papers=3)
    return emails


def rows() -> dict[str, Delivery]:
    return {d.subscriber.email: d for d in Delivery.objects.select_related("subscriber")}


# --- What anymail is given ----------------------------------------------------------------------


def test_anymail_gets_the_whole_digest_its_metadata_and_no_tracking(batch, make_subscriber, anymail_test):
    make_subscriber("reader@example.org", topics=["llm"])
    call_command("send_digest", "--wait")
    [message] = mail.outbox
    params = message.anymail_test_params
    row = Delivery.objects.get()
    assert params["to"][0].addr_spec == "reader@example.org"
    assert params["text_body"].startswith(message.body[:50]) and "<html" in params["html_body"]
    headers = params["extra_headers"]
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click" and "/unsubscribe/" in headers["List-Unsubscribe"]
    assert headers["Message-ID"] == row.message_id
    assert params["metadata"] == {"delivery": str(row.pk)} and params["tags"] == ["digest"]
    assert params["track_opens"] is False and params["track_clicks"] is False
    assert row.status == "sent" and row.esp_message_id == "0"  # the test backend's id: its outbox index


def test_an_esp_rejection_fails_the_row_and_suppresses_the_address(batch, make_subscriber, anymail_test):
    make_subscriber("gone@example.org", topics=["llm"])
    make_subscriber("fine@example.org", topics=["llm"])
    SCRIPT["gone@example.org"] = "rejected"
    with pytest.raises(CommandError, match="1 deliveries failed"):
        call_command("send_digest", "--wait")
    found = rows()
    assert found["gone@example.org"].status == "failed" and found["fine@example.org"].status == "sent"
    assert Subscriber.objects.get(email="gone@example.org").status == "bounced"


def test_an_esp_api_error_is_retried_then_given_up(batch, make_subscriber, anymail_test, settings):
    settings.DELIVERY_MAX_ATTEMPTS = 2
    make_subscriber("unlucky@example.org", topics=["llm"])
    SCRIPT["unlucky@example.org"] = "api-error"
    with pytest.raises(CommandError, match="gave up after 2 attempts: AnymailAPIError: the ESP is having a bad day"):
        call_command("send_digest", "--wait", "--timeout", "30")
    assert Delivery.objects.get().attempts == 2


# --- A server that answers like Postmark ---------------------------------------------------------


def test_digests_go_in_batches_and_each_row_keeps_the_esps_message_id(batch, make_subscriber, postmark):
    emails = readers(make_subscriber, 25)
    call_command("send_digest", "--wait")
    assert [path for path, _ in postmark.requests] == ["/email/batch"] * 3
    assert sorted(n for _, n in postmark.requests) == [5, 10, 10]
    by_to = {m.to: m for m in postmark.accepted}
    assert sorted(by_to) == emails and postmark.copies() == {e: 1 for e in emails}
    for email, row in rows().items():
        sent = by_to[email]
        assert row.status == "sent" and row.esp_message_id == sent.message_id
        assert sent.metadata == {"delivery": str(row.pk)} and sent.headers["Message-ID"] == row.message_id
        assert sent.track_opens is False and sent.track_links == "None"
        assert "List-Unsubscribe" in sent.headers and "<html" in sent.html and sent.text.strip()


def test_one_message_per_request_when_batches_are_off(batch, make_subscriber, postmark, settings):
    settings.ESP_BATCH_SIZE = 1
    readers(make_subscriber, 3)
    call_command("send_digest", "--wait")
    assert [path for path, _ in postmark.requests] == ["/email"] * 3


def test_a_429_holds_the_chunk_for_retry_after_and_each_reader_gets_one_copy(batch, make_subscriber, postmark):
    emails = readers(make_subscriber, 25)
    postmark.behaviour.statuses = [429]
    postmark.behaviour.retry_after = "1"
    call_command("send_digest", "--wait", "--timeout", "60")
    assert postmark.answers[0] == 429
    assert postmark.copies() == {e: 1 for e in emails}
    attempts = sorted(row.attempts for row in rows().values())
    # The batch that met the 429 was tried twice; the rows behind it waited without an attempt.
    assert attempts == [1] * 15 + [2] * 10
    assert all(row.status == "sent" for row in rows().values())


def test_5xx_answers_are_retried(batch, make_subscriber, postmark):
    emails = readers(make_subscriber, 12)
    postmark.behaviour.statuses = [503, 500]
    call_command("send_digest", "--wait", "--timeout", "60")
    assert postmark.answers[:2] == [503, 500]
    assert postmark.copies() == {e: 1 for e in emails}
    assert all(row.status == "sent" for row in rows().values())


def test_refused_messages_in_a_batch_fail_alone(batch, make_subscriber, postmark):
    emails = readers(make_subscriber, 6)
    postmark.behaviour.inactive = {"reader01@example.org"}
    postmark.behaviour.invalid = {"reader02@example.org"}
    with pytest.raises(CommandError, match="2 deliveries failed"):
        call_command("send_digest", "--wait")
    found = rows()
    assert found["reader01@example.org"].status == "failed" and "406" in found["reader01@example.org"].last_error
    assert found["reader02@example.org"].status == "failed" and "300" in found["reader02@example.org"].last_error
    assert Subscriber.objects.get(email="reader01@example.org").status == "bounced"  # inactive: a bounce
    assert Subscriber.objects.get(email="reader02@example.org").status == "active"
    assert {e for e in emails if found[e].status == "sent"} == set(emails) - {"reader01@example.org",
                                                                           "reader02@example.org"}


def test_a_request_without_an_answer_is_unknown_and_not_sent_again(batch, make_subscriber, postmark, settings):
    settings.ESP_BATCH_SIZE = 1
    readers(make_subscriber, 3)
    postmark.behaviour.drop_for = {"reader01@example.org"}
    call_command("send_digest", "--wait", "--timeout", "60")
    found = rows()
    lost = found["reader01@example.org"]
    assert lost.status == "unknown" and lost.last_error.startswith("outcome unknown: no answer from the ESP")
    assert postmark.copies()["reader01@example.org"] == 1  # it did arrive, and only once
    assert found["reader00@example.org"].status == found["reader02@example.org"].status == "sent"


def test_a_wrong_token_is_retried_and_recorded_not_failed_at_once(batch, make_subscriber, postmark, settings):
    settings.ANYMAIL = {**settings.ANYMAIL, "POSTMARK_SERVER_TOKEN": "wrong"}
    settings.DELIVERY_MAX_ATTEMPTS = 2
    make_subscriber("reader@example.org", topics=["llm"])
    with pytest.raises(CommandError, match="gave up after 2 attempts: AnymailRequestsAPIError"):
        call_command("send_digest", "--wait", "--timeout", "30")
    assert "401" in Delivery.objects.get().last_error


# --- Webhook events on the delivery rows ----------------------------------------------------------


@pytest.fixture
def webhooks(settings):
    from tests.test_subscriptions import reload_urls

    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": "hook:secret"}
    reload_urls()
    yield
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": None}
    reload_urls()


def post_event(payload: dict) -> int:
    auth = "Basic " + base64.b64encode(b"hook:secret").decode()
    return Client().post("/anymail/postmark/tracking/", data=json.dumps(payload), content_type="application/json",
                         HTTP_AUTHORIZATION=auth).status_code


def test_delivery_bounce_and_complaint_events_land_on_the_rows(batch, make_subscriber, postmark, webhooks):
    readers(make_subscriber, 3)
    call_command("send_digest", "--wait")
    found = rows()
    delivered, bounced, angry = (found[f"reader0{i}@example.org"] for i in range(3))
    assert post_event({"RecordType": "Delivery", "MessageID": delivered.esp_message_id, "Recipient": "reader00@example.org",
                       "DeliveredAt": "2026-03-19T07:00:05Z", "Metadata": {"delivery": str(delivered.pk)}}) == 200
    assert post_event({"RecordType": "Bounce", "Type": "HardBounce", "TypeCode": 1, "ID": 7,
                       "Email": "reader01@example.org", "MessageID": bounced.esp_message_id,
                       "BouncedAt": "2026-03-19T07:00:09Z"}) == 200  # found by the ESP's message id
    assert post_event({"RecordType": "SpamComplaint", "Type": "SpamComplaint", "TypeCode": 512, "ID": 8,
                       "Email": "reader02@example.org", "MessageID": angry.esp_message_id,
                       "BouncedAt": "2026-03-19T09:00:00Z", "Metadata": {"delivery": str(angry.pk)}}) == 200
    # A late "delivered" does not hide the complaint; an event naming another row's id is ignored.
    post_event({"RecordType": "Delivery", "MessageID": angry.esp_message_id, "Recipient": "reader02@example.org",
                "DeliveredAt": "2026-03-19T09:01:00Z", "Metadata": {"delivery": str(angry.pk)}})
    post_event({"RecordType": "Delivery", "MessageID": "x", "Recipient": "reader00@example.org",
                "DeliveredAt": "2026-03-19T09:01:00Z", "Metadata": {"delivery": str(bounced.pk)}})
    found = rows()
    assert [found[f"reader0{i}@example.org"].esp_event for i in range(3)] == ["delivered", "bounced", "complained"]
    assert found["reader00@example.org"].esp_event_at.isoformat().startswith("2026-03-19T07:00:05")
    assert {s.reason for s in Suppression.objects.all()} == {"bounced", "complained"}


@pytest.mark.integration
@pytest.mark.faults
def test_real_workers_through_the_esp_send_each_reader_once_under_429_and_5xx(batch, workers, fast):
    from subscribers.delivery import build_edition
    from tests.delivery_checks import FAST, make_readers, run_until_done

    server = FakePostmark()
    server.start()
    try:
        make_readers(300)
        server.behaviour.statuses = [429, 503, 429, 502]
        server.behaviour.retry_after = "1"
        env = {**FAST, "EMAIL_ESP": "postmark", "ANYMAIL_POSTMARK_SERVER_TOKEN": TOKEN,
               "ANYMAIL_POSTMARK_API_URL": server.url, "ESP_BATCH_SIZE": "20"}
        workers.start(concurrency=2, extra_env=env)
        edition, _ = build_edition(batch)
        counts = run_until_done(edition, 240)
        assert counts["sent"] == 300 and counts["failed"] == counts["unknown"] == 0
        assert server.answers.count(429) == 2 and {503, 502} <= set(server.answers)
        assert server.copies() == {f"reader{i:04d}@example.org": 1 for i in range(300)}
        ids = {m.to: m.message_id for m in server.accepted}
        assert all(ids[row.subscriber.email] == row.esp_message_id
                   for row in Delivery.objects.select_related("subscriber"))
        assert all(n <= 20 for path, n in server.requests if path == "/email/batch")
    finally:
        server.stop()
