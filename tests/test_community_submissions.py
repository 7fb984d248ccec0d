"""Submissions: ids and links, known papers from the database, unknown ones from the arXiv
API through the ingest guards, the rules (recent, no duplicate, daily cap), the moderation
queue in the admin, and trusted people skipping it."""

import datetime as dt
import http.server
import threading
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from community import submissions
from community.members import member_for, set_display_name
from community.models import Submission
from community.submissions import SubmissionRefused, parse_arxiv_input
from digest.ingest.pipeline import ingest_bytes
from digest.models import Batch, BatchEntry, Paper
from tests.conftest import csrf_post, data_file

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()


@pytest.mark.parametrize("text, expected", [
    ("2403.12345", "2403.12345"), ("2403.12345v3", "2403.12345"), ("arXiv:2403.12345", "2403.12345"),
    ("https://arxiv.org/abs/2403.12345v2", "2403.12345"), ("https://arxiv.org/pdf/2403.12345v1.pdf", "2403.12345"),
    ("arxiv.org/html/2403.12345", "2403.12345"), ("https://huggingface.co/papers/2403.12345", "2403.12345"),
    ("hep-ex/0601001", "hep-ex/0601001"), ("https://arxiv.org/abs/hep-ex/0601001v2", "hep-ex/0601001"),
])
def test_ids_and_links_are_understood(text, expected):
    assert parse_arxiv_input(text) == expected


@pytest.mark.parametrize("text", ["", "hello", "https://evil.example/abs/2403.12345", "2403.123", "javascript:alert(1)"])
def test_anything_else_is_refused_with_the_forms_that_work(text):
    with pytest.raises(SubmissionRefused, match="arXiv id"):
        parse_arxiv_input(text)


@pytest.fixture
def recent(page_bytes):
    """The seed page as the papers of three days ago (published) and a draft for today."""
    ingest_bytes(page_bytes, date=TODAY - dt.timedelta(days=3))
    Batch.objects.get(date=TODAY - dt.timedelta(days=3)).publish()
    return Paper.objects.get(title__startswith="LoLDU")


def test_a_known_recent_paper_waits_in_the_queue_for_todays_list(recent, make_member):
    recent.arxiv_id = "2410.13618"
    recent.save()
    user = make_member()
    submission = submissions.submit(user, "https://arxiv.org/abs/2410.13618v1")
    assert submission.status == "pending" and submission.batch.date == TODAY and not submission.batch.is_published
    assert not BatchEntry.objects.filter(batch=submission.batch, paper=recent).exists()  # not before approval
    assert submissions.approve(submission) and not submissions.approve(submission)
    entry = BatchEntry.objects.get(batch=submission.batch, paper=recent)
    assert entry.submitted_by == "Alice" and entry.announce_type == "community"
    set_display_name(member_for(user), "Alice B")  # the name on the list follows a rename
    entry.refresh_from_db()
    assert entry.submitted_by == "Alice B"


def test_no_duplicates_in_a_batch_and_the_submitter_is_told_where_it_is(recent, make_member):
    recent.arxiv_id = "2410.13618"
    recent.save()
    first = submissions.submit(make_member(), "2410.13618")
    with pytest.raises(SubmissionRefused, match="waiting for a curator"):
        submissions.submit(make_member("bob@example.org", "Bob"), "2410.13618")
    submissions.approve(first)
    with pytest.raises(SubmissionRefused, match=rf"already in the list of {TODAY:%a %-d %b}, at #1"):
        submissions.submit(make_member("carol@example.org", "Carol"), "2410.13618")


def test_a_published_day_takes_no_more_submissions_they_go_to_the_next_draft(recent, make_member):
    recent.arxiv_id = "2410.13618"
    recent.save()
    Batch.objects.create(date=TODAY, status="published")
    assert submissions.submit(make_member(), "2410.13618").batch.date == TODAY + dt.timedelta(days=1)


def test_old_papers_are_refused(page_bytes, make_member):
    ingest_bytes(page_bytes, date=TODAY - dt.timedelta(days=20))
    paper = Paper.objects.get(title__startswith="LoLDU")
    paper.arxiv_id = "2410.13618"
    paper.save()
    with pytest.raises(SubmissionRefused, match="only papers of the last 14 days"):
        submissions.submit(make_member(), "2410.13618")


def test_a_daily_cap_per_person(recent, make_member, settings):
    settings.SUBMISSIONS_PER_DAY = 2
    papers = list(Paper.objects.order_by("pk")[:3])
    for i, paper in enumerate(papers):
        paper.arxiv_id = f"2410.1000{i}"
        paper.save()
    user = make_member()
    submissions.submit(user, "2410.10000")
    submissions.submit(user, "2410.10001")
    with pytest.raises(SubmissionRefused, match="You have submitted 2 papers today"):
        submissions.submit(user, "2410.10002")


def test_trusted_people_skip_the_queue_and_banned_or_nameless_ones_cannot_submit(recent, make_member):
    recent.arxiv_id = "2410.13618"
    recent.save()
    trusted = submissions.submit(make_member(trusted=True), "2410.13618")
    assert trusted.status == "approved"
    assert BatchEntry.objects.get(batch=trusted.batch, paper=recent).submitted_by == "Alice"
    with pytest.raises(SubmissionRefused, match="can no longer submit"):
        submissions.submit(make_member("bob@example.org", "Bob", banned=True), "2410.13618")
    with pytest.raises(SubmissionRefused, match="display name first"):
        submissions.submit(make_member("carol@example.org", ""), "2410.13618")


# --- Unknown papers: the arXiv API, through the fetch guards ---------------------------------------


class ArxivAPI(http.server.BaseHTTPRequestHandler):
    published = "2016-05-26T17:59:46Z"

    def log_message(self, *args):
        pass

    def do_GET(self):
        wanted = parse_qs(urlsplit(self.path).query)["id_list"][0]
        folder = "arxiv_api_atom/derived_bodies/"
        if wanted == "1605.08386":
            body = data_file(folder + "arxivpy_recorded_2026_id_1605.08386.body.xml").read_text()
            body = body.replace("<published>2016-05-26T17:59:46Z</published>",
                                f"<published>{self.published}</published>").encode()
        else:
            body = data_file(folder + "arxivpy_recorded_2026_id_0000.0000.body.xml").read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def arxiv_api(settings):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), ArxivAPI)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.ARXIV_API_URL = f"http://127.0.0.1:{server.server_address[1]}/api/query"
    settings.INGEST_ALLOWED_HOSTS = ["127.0.0.1"]
    yield ArxivAPI
    server.shutdown()
    ArxivAPI.published = "2016-05-26T17:59:46Z"


def test_an_unknown_paper_is_fetched_from_arxiv_and_stored_in_no_batch(arxiv_api, make_member):
    arxiv_api.published = f"{TODAY - dt.timedelta(days=2)}T17:59:46Z"
    submission = submissions.submit(make_member(), "arXiv:1605.08386v1")
    paper = Paper.objects.get(arxiv_id="1605.08386")
    assert submission.paper == paper and paper.title == "Heat-bath random walks with Markov bases"
    assert paper.published == TODAY - dt.timedelta(days=2) and paper.authors
    assert not paper.entries.exists()


def test_arxiv_answers_that_refuse(arxiv_api, make_member, settings):
    user = make_member()
    with pytest.raises(SubmissionRefused, match="only papers of the last 14 days"):
        submissions.submit(user, "1605.08386")  # announced in 2016
    with pytest.raises(SubmissionRefused, match="arXiv has no paper 0000.0000"):
        submissions.submit(user, "0000.0000")
    settings.INGEST_ALLOWED_HOSTS = []  # the guards hold: loopback is refused
    with pytest.raises(SubmissionRefused, match="could not be asked"):
        submissions.submit(user, "1605.08386")
    assert not Paper.objects.filter(arxiv_id="1605.08386").exists()


# --- The page and the moderation queue ---------------------------------------------------------------


def test_the_submit_page(recent, member_client, settings):
    recent.arxiv_id = "2410.13618"
    recent.save()
    client = member_client()
    assert "Submit a paper" in client.get("/submit/").content.decode()
    done = csrf_post(client, "/submit/", {"paper": "2410.13618"})
    assert done.status_code == 302
    assert "waits for a curator" in client.get("/submit/").content.decode()
    again = csrf_post(client, "/submit/", {"paper": "2410.13618"})
    assert again.status_code == 400 and "waiting for a curator" in again.content.decode()
    nameless = member_client("bob@example.org", "")
    assert csrf_post(nameless, "/submit/", {"paper": "2410.13618"})["Location"].startswith("/me/?next=")
    settings.SUBMIT_RATE_PER_IP = "3/600"  # two posts above, one more, then 429
    assert csrf_post(client, "/submit/", {"paper": "x"}).status_code == 400
    assert csrf_post(client, "/submit/", {"paper": "x"}).status_code == 429


def test_curators_approve_and_reject_with_a_reason_in_the_queue(recent, make_member, admin_client):
    papers = list(Paper.objects.order_by("pk")[:2])
    for i, paper in enumerate(papers):
        paper.arxiv_id = f"2410.1000{i}"
        paper.save()
    keep = submissions.submit(make_member(), "2410.10000")
    drop = submissions.submit(make_member("bob@example.org", "Bob"), "2410.10001")
    queue = admin_client.get("/admin/community/submission/").content.decode()
    assert papers[0].title[:40] in queue and "Waiting for review" in queue and "status__exact=pending" in queue
    admin_client.post("/admin/community/submission/", {"action": "approve", "_selected_action": [keep.pk]})
    keep.refresh_from_db()
    assert keep.status == "approved" and keep.decided_by.username == "admin"
    asks = admin_client.post("/admin/community/submission/", {"action": "reject", "_selected_action": [drop.pk]})
    assert "Reason" in asks.content.decode()
    drop.refresh_from_db()
    assert drop.status == "pending"
    empty = admin_client.post("/admin/community/submission/",
                              {"action": "reject", "_selected_action": [drop.pk], "confirmed": "yes", "reason": ""})
    assert "This field is required" in empty.content.decode()
    admin_client.post("/admin/community/submission/", {"action": "reject", "_selected_action": [drop.pk],
                                                       "confirmed": "yes", "reason": "Not about machine learning."})
    drop.refresh_from_db()
    assert drop.status == "rejected" and drop.reason == "Not about machine learning."
    assert Submission.objects.filter(status="pending").count() == 0


def test_a_curator_renames_a_member_by_the_same_rules_and_the_lists_follow(recent, make_member, admin_client):
    recent.arxiv_id = "2410.13618"
    recent.save()
    user = make_member(name="Spammy McSpam", trusted=True)
    submission = submissions.submit(user, "2410.13618")
    member = member_for(user)
    bad = admin_client.post(f"/admin/community/member/{member.pk}/change/",
                            {"display_name": "Eve\u202eevil", "trusted": "on"})
    assert bad.status_code == 200 and "U+202E" in bad.content.decode()
    admin_client.post(f"/admin/community/member/{member.pk}/change/", {"display_name": "Reader 7", "trusted": "on"})
    assert BatchEntry.objects.get(batch=submission.batch, paper=recent).submitted_by == "Reader 7"
