"""The curation panel: the admin for batches, previews, publishing, sending, the dashboard."""

import datetime as dt
import http.server
import threading

import pytest
from django.core import mail
from django.utils import timezone

from digest.models import Batch, BatchEntry, Source
from subscribers.models import Edition
from tests.conftest import data_file

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft(page_bytes):
    from digest.ingest.pipeline import ingest_bytes

    ingest_bytes(page_bytes)
    return Batch.objects.get()


def test_the_batch_page_lists_entries_in_order_with_inline_editing(admin_client, draft):
    html = admin_client.get(f"/admin/digest/batch/{draft.pk}/change/").content.decode()
    assert html.count('name="entries-') > 93 * 4  # position, featured, hidden, note per entry
    first, last = html.index("DreamSync"), html.index("AutoDiffusion")
    assert first < last
    for label in ("Preview the email", "Publish…", "Send now…", "Bulk-edit entries"):
        assert label in html


def test_reordering_featuring_and_hiding_through_the_batch_form(admin_client, draft):
    entries = list(draft.entries.order_by("position"))
    data = {"date": draft.date.isoformat(), "send_at_0": "", "send_at_1": "", "add_arxiv_ids": "",
            "entries-TOTAL_FORMS": str(len(entries)), "entries-INITIAL_FORMS": str(len(entries)),
            "entries-MIN_NUM_FORMS": "0", "entries-MAX_NUM_FORMS": "1000"}
    for i, e in enumerate(entries):
        data.update({f"entries-{i}-id": str(e.pk), f"entries-{i}-batch": str(draft.pk), f"entries-{i}-paper": str(e.paper_id),
                     f"entries-{i}-position": str(e.position), f"entries-{i}-note": ""})
    data["entries-92-position"] = "0"  # the last paper moves to the top
    data["entries-5-featured"] = "on"
    data["entries-0-hidden"] = "on"
    data["entries-1-note"] = "Read this one."
    response = admin_client.post(f"/admin/digest/batch/{draft.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    ordered = list(draft.entries.order_by("position").values_list("paper__title", flat=True))
    assert ordered[0].startswith("AutoDiffusion")
    assert BatchEntry.objects.get(pk=entries[5].pk).featured and BatchEntry.objects.get(pk=entries[0].pk).hidden
    assert BatchEntry.objects.get(pk=entries[1].pk).note == "Read this one."


def test_bulk_actions_on_entries(admin_client, draft):
    ids = list(draft.entries.order_by("position").values_list("pk", flat=True)[:3])
    admin_client.post("/admin/digest/batchentry/", {"action": "feature", "_selected_action": ids})
    admin_client.post("/admin/digest/batchentry/", {"action": "hide", "_selected_action": ids[:1]})
    assert BatchEntry.objects.filter(featured=True).count() == 3 and BatchEntry.objects.filter(hidden=True).count() == 1


def test_publishing_asks_first(admin_client, draft):
    page = admin_client.get(f"/admin/digest/batch/{draft.pk}/publish/").content.decode()
    assert "Publish the batch of 2026-03-19?" in page and "93 papers will appear" in page
    draft.refresh_from_db()
    assert draft.status == "draft"
    admin_client.post(f"/admin/digest/batch/{draft.pk}/publish/")
    draft.refresh_from_db()
    assert draft.status == "published"


def test_the_publish_action_asks_first_too(admin_client, draft):
    response = admin_client.post("/admin/digest/batch/", {"action": "publish_batches", "_selected_action": [draft.pk]})
    assert "Publish these batches?" in response.content.decode()
    draft.refresh_from_db()
    assert draft.status == "draft"
    admin_client.post("/admin/digest/batch/", {"action": "publish_batches", "_selected_action": [draft.pk], "confirmed": "yes"})
    draft.refresh_from_db()
    assert draft.status == "published"


def test_send_now_shows_the_editions_progress(admin_client, batch, make_subscriber, django_capture_on_commit_callbacks):
    make_subscriber("a@example.org", topics=["lora-peft"])
    make_subscriber("b@example.org", keywords="quantum chromodynamics")
    confirm = admin_client.get(f"/admin/digest/batch/{batch.pk}/send/").content.decode()
    assert "2 daily subscribers get their matches" in confirm
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"/admin/digest/batch/{batch.pk}/send/")
    edition = Edition.objects.get()
    assert response["Location"] == f"/admin/subscribers/edition/{edition.pk}/change/"
    assert len(mail.outbox) == 1
    progress = admin_client.get(response["Location"]).content.decode()
    assert "100%</strong> done" in progress and "sent 1, skipped 1" in progress
    batch_page = admin_client.get(f"/admin/digest/batch/{batch.pk}/change/").content.decode()
    assert "100% done; sent 1, skipped 1" in batch_page


def test_a_draft_cannot_be_sent(admin_client, draft):
    assert "Publish the batch first" in admin_client.get(f"/admin/digest/batch/{draft.pk}/send/").content.decode()


def test_the_email_preview_as_a_subscriber_and_as_made_up_interests(admin_client, draft, make_subscriber):
    subscriber = make_subscriber(topics=["lora-peft"])
    page = admin_client.get(f"/admin/digest/batch/{draft.pk}/preview/", {"subscriber": subscriber.pk}).content.decode()
    assert "Subject: " in page and "LoLDU" in page and "srcdoc=" in page and 'id="preview-text"' in page
    assert Edition.objects.count() == 0 and mail.outbox == []  # a preview sends nothing
    from digest.models import Topic

    made_up = admin_client.get(f"/admin/digest/batch/{draft.pk}/preview/",
                               {"topics": [Topic.objects.get(slug="unlearning").pk], "max_papers": 2}).content.decode()
    assert "Label-Agnostic Forgetting" in made_up or "Model Sparsity" in made_up
    assert "2 papers, 1 more" in made_up
    nothing = admin_client.get(f"/admin/digest/batch/{draft.pk}/preview/", {"keywords": "quantum chromodynamics"})
    assert "this reader would get no email" in nothing.content.decode()


class ArxivAPI(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        body = data_file("arxiv_api_atom/arxivpy_legacyapi_2016_id_list_1111.2011v2.xml").read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_adding_a_paper_by_arxiv_id_goes_through_the_ingest_guards(admin_client, draft, settings):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), ArxivAPI)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.ARXIV_API_URL = f"http://127.0.0.1:{server.server_address[1]}/api/query"
    data = {"date": draft.date.isoformat(), "send_at_0": "", "send_at_1": "", "add_arxiv_ids": "1111.2011v2",
            "entries-TOTAL_FORMS": "0", "entries-INITIAL_FORMS": "0", "entries-MIN_NUM_FORMS": "0",
            "entries-MAX_NUM_FORMS": "1000"}
    settings.INGEST_ALLOWED_HOSTS = []
    response = admin_client.post(f"/admin/digest/batch/{draft.pk}/change/", data, follow=True)
    assert "refused: 127.0.0.1 is a loopback address" in response.content.decode()
    settings.INGEST_ALLOWED_HOSTS = ["127.0.0.1"]
    response = admin_client.post(f"/admin/digest/batch/{draft.pk}/change/", data, follow=True)
    assert "1 paper added to this batch" in response.content.decode()
    assert draft.entries.filter(paper__arxiv_id="1111.2011").exists()
    bad = admin_client.post(f"/admin/digest/batch/{draft.pk}/change/", {**data, "add_arxiv_ids": "not-an-id"})
    assert "Not an arXiv id: not-an-id" in bad.content.decode()
    server.shutdown()


def test_a_scheduled_batch_is_published_and_sent_once(batch, make_subscriber, django_capture_on_commit_callbacks):
    from subscribers.tasks import send_scheduled

    make_subscriber("a@example.org", topics=["lora-peft"])
    Batch.objects.filter(pk=batch.pk).update(status="draft", send_at=timezone.now() + dt.timedelta(hours=1))
    assert send_scheduled() == 0
    Batch.objects.filter(pk=batch.pk).update(send_at=timezone.now() - dt.timedelta(minutes=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert send_scheduled() == 1
    assert send_scheduled() == 0
    batch.refresh_from_db()
    assert batch.status == "published" and len(mail.outbox) == 1


def test_the_dashboard_draws_its_charts_on_the_admin_index(admin_client, batch, make_subscriber,
                                                          django_capture_on_commit_callbacks):
    make_subscriber("a@example.org", topics=["lora-peft"])
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(f"/admin/digest/batch/{batch.pk}/send/")
    html = admin_client.get("/admin/").content.decode()
    for title in ("Papers ingested per source per day", "Subscribers by status", "Deliveries per edition"):
        assert "<title" in html and title in html
    assert html.count('role="img"') == 3 and "cdn" not in html.lower()
    # Charts scale to the screen, and the newest bar of the 30-day chart has its date.
    from django.utils import timezone

    assert html.count('class="chart"') == 3
    [subscribers] = [svg for svg in html.split("<svg")[1:] if "Subscribers by status" in svg]
    assert f">{timezone.localdate():%d %b}</text>" in subscribers.split("</svg>")[0]


def test_the_sources_page_shows_the_last_run_and_can_run_now(admin_client):
    Source.objects.create(name="cs.AI", url="http://10.0.0.1/rss", last_error="refused: 10.0.0.1 is a private address",
                          last_counts={"total": 3, "new": 3, "updated": 0, "errors": 0})
    html = admin_client.get("/admin/digest/source/").content.decode()
    assert "3 papers: 3 new" in html and "refused: 10.0.0.1 is a private address" in html
    source = Source.objects.get()
    admin_client.post("/admin/digest/source/", {"action": "run_now", "_selected_action": [source.pk]})
    source.refresh_from_db()
    assert source.last_checked_at is not None and "private address" in source.last_error


def test_saving_a_batch_renumbers_its_papers_in_the_order_given(batch):
    entries = list(batch.entries.order_by("position")[:5])
    # Gaps and a tie, as typing leaves them: 0, 1, 2, 4, 5 with the last moved up to 1.
    for entry, position in zip(entries, [0, 1, 2, 4, 5]):
        entry.position = position
        entry.save()
    last = entries[4]
    last.position = 1
    last.save()
    batch.renumber({last.pk: (5, 1)})
    order = list(batch.entries.order_by("position").values_list("pk", "position")[:5])
    assert [pk for pk, _ in order] == [entries[0].pk, last.pk, entries[1].pk, entries[2].pk, entries[3].pk]
    assert sorted(batch.entries.values_list("position", flat=True)) == list(range(1, 94))
    # Moved down onto a taken position: after the paper already there.
    first = batch.entries.get(position=1)
    first.position = 3
    first.save()
    batch.renumber({first.pk: (1, 3)})
    assert batch.entries.get(pk=first.pk).position == 3


def test_the_batch_page_lists_titles_and_finds_within_the_batch(admin_client, batch):
    html = admin_client.get(f"/admin/digest/batch/{batch.pk}/change/").content.decode()
    assert html.count('class="entry') == 93 and "LoLDU: Low-Rank Adaptation" in html and "popovertarget" in html
    assert "Django administration" not in html and "<title>" in html
    found = admin_client.get(f"/admin/digest/batch/{batch.pk}/change/?q=LoLDU").content.decode()
    assert found.count('class="entry') == 1 and "Papers matching “LoLDU” (1)" in found
