"""The open JSON API: shape, periods, sorting, pagination, errors, ETag and 304."""

import datetime as dt

import pytest

from community import votes
from digest.ingest.pipeline import ingest_path
from digest.models import Batch
from tests.conftest import PAGE_DATE, data_file

pytestmark = pytest.mark.django_db


def test_a_day_of_papers_with_everything_a_reader_needs(client, batch, make_member):
    paper = batch.visible_entries()[2].paper
    votes.upvote(make_member(), paper)
    response = client.get("/api/papers/?date=2026-03-19&per_page=5")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert response["Access-Control-Allow-Origin"] == "*"
    data = response.json()
    assert (data["start"], data["end"], data["sort"]) == ("2026-03-19", "2026-03-19", "curated")
    assert data["count"] == 93 and data["pages"] == 19 and data["page"] == 1 and len(data["results"]) == 5
    assert data["previous"] is None and data["next"].endswith("/api/papers/?date=2026-03-19&per_page=5&page=2")
    first = data["results"][0]
    assert set(first) >= {"id", "url", "title", "authors", "abstract", "links", "votes", "comments", "day",
                          "featured", "submitted_by", "rank", "categories", "published"}
    assert first["rank"] == 1 and first["day"] == "2026-03-19"
    assert data["results"][2]["votes"]["community"] == 1
    last = client.get(data["next"].replace("page=2", "page=19")).json()
    assert [r["rank"] for r in last["results"]] == [91, 92, 93] and last["next"] is None


def test_without_a_period_the_newest_day(client, batch):
    assert client.get("/api/papers/").json()["start"] == PAGE_DATE.isoformat()


def test_weeks_months_and_sorting(client, batch, make_member):
    ingest_path(data_file("arxiv_rss_new/distill_rss_cs.CL_2026-04-27_trimmed3items.xml"))
    Batch.objects.get(date="2026-04-27").publish()
    week = client.get("/api/papers/?week=2026-W12").json()
    assert (week["start"], week["end"], week["count"]) == ("2026-03-16", "2026-03-22", 93)
    month = client.get("/api/papers/?month=2026-04").json()
    assert (month["start"], month["end"], month["count"]) == ("2026-04-01", "2026-04-30", 3)
    last = batch.visible_entries().last().paper
    votes.upvote(make_member(), last)
    by_votes = client.get("/api/papers/?date=2026-03-19&sort=votes").json()
    trending = client.get("/api/papers/?date=2026-03-19&sort=trending").json()
    curated = client.get("/api/papers/?date=2026-03-19").json()
    assert by_votes["results"][0]["id"] == trending["results"][0]["id"] == last.identifier
    assert curated["results"][0]["id"] != last.identifier


@pytest.mark.parametrize("query, message", [
    ("date=2026-02-30", "date='2026-02-30' is not valid; use a form like date=2026-03-19"),
    ("week=2026-12", "use a form like week=2026-W12"), ("month=March", "use a form like month=2026-03"),
    ("date=2026-03-19&week=2026-W12", "give one of date, week or month"), ("sort=random", "sort must be one of"),
    ("page=0", "page must be a whole number"), ("per_page=1000", "per_page must be a whole number from 1 to 100"),
])
def test_bad_parameters_get_a_400_that_says_how_to_fix_them(client, batch, query, message):
    response = client.get(f"/api/papers/?{query}")
    assert response.status_code == 400 and message in response.json()["error"]


def test_one_paper_with_its_days(client, batch):
    entry = batch.visible_entries()[0]
    data = client.get(f"/api/papers/{entry.paper.identifier}/").json()
    assert data["id"] == entry.paper.identifier and data["title"] == entry.paper.title
    assert data["days"] == [{"day": "2026-03-19", "featured": False, "hidden": False, "submitted_by": None}]
    assert data["discussion"].endswith(entry.paper.get_absolute_url() + "#discussion")
    missing = client.get("/api/papers/9999.99999/")
    assert missing.status_code == 404 and missing.json() == {"error": "no such paper"}


def test_answers_carry_an_etag_and_a_conditional_get_gets_304_until_a_vote(client, batch, make_member,
                                                                           django_capture_on_commit_callbacks):
    first = client.get("/api/papers/?date=2026-03-19")
    etag = first["ETag"]
    again = client.get("/api/papers/?date=2026-03-19", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and again.content == b"" and again["ETag"] == etag
    with django_capture_on_commit_callbacks(execute=True):  # a vote makes a new version when it commits
        votes.upvote(make_member(), batch.visible_entries()[0].paper)
    changed = client.get("/api/papers/?date=2026-03-19", HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and changed["ETag"] != etag


def test_only_published_days_are_served(client, page_bytes):
    from digest.ingest.pipeline import ingest_bytes

    ingest_bytes(page_bytes, date=dt.date(2026, 3, 20))  # a draft
    assert client.get("/api/papers/?date=2026-03-20").json()["count"] == 0
    paper = Batch.objects.get().entries.first().paper
    assert client.get(f"/api/papers/{paper.identifier}/").status_code == 404


def test_the_api_costs_a_bounded_number_of_queries(client, batch, django_assert_max_num_queries):
    with django_assert_max_num_queries(6):
        client.get("/api/papers/?date=2026-03-19&per_page=100")
