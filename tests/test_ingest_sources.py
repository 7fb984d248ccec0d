"""Storing every source, enrichment across sources, and bad input that must lose nothing."""

import datetime as dt

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from digest.ingest.pipeline import IngestError, ingest_bytes, ingest_path
from digest.models import Batch, Paper
from tests.conftest import DATA, data_file

FULL = "arxiv_rss_new/aioarxiv_rss_20archives_2024-11-28_full1504items.xml"
EDGE = "feedparser_edgecases"


@pytest.mark.django_db
def test_the_full_feed_stores_every_paper_and_only_new_and_cross_join_the_day():
    summary = ingest_path(data_file(FULL))
    assert summary.line() == "1504 papers: 1504 new, 0 updated, 0 unchanged, 0 errors"
    assert Paper.objects.count() == 1504
    batch = Batch.objects.get()
    assert batch.date == dt.date(2024, 11, 28)
    assert batch.entries.count() == 926 + 9  # replacements update papers, not the day
    assert set(batch.entries.values_list("announce_type", flat=True)) == {"new", "cross"}
    again = ingest_path(data_file(FULL))
    assert again.line() == "1504 papers: 0 new, 0 updated, 1504 unchanged, 0 errors"


@pytest.mark.django_db
def test_a_setting_lets_replacements_join_the_day(settings):
    settings.INGEST_REPLACEMENTS_JOIN_BATCH = True
    ingest_path(data_file(FULL))
    assert Batch.objects.get().entries.count() == 1504


@pytest.mark.django_db
def test_sources_enrich_and_never_erase():
    from digest.ingest.records import PaperRecord, ParseResult
    from digest.ingest.store import store

    hf = data_file("hf_daily_papers/allnewsai_hf_daily_papers_2026-07-31_pretty.json").read_bytes()
    ingest_bytes(hf)
    paper = Paper.objects.get(arxiv_id="2607.23193")
    assert paper.upvotes == 3 and paper.code_url
    # An arXiv record of the same paper with a newer version, but no upvotes or code link.
    store(ParseResult(format="t", records=[PaperRecord(
        title=paper.title, abstract=paper.abstract, arxiv_id="2607.23193", version=2,
        categories=["cs.CL"], authors=paper.authors)], date=dt.date(2026, 7, 31)))
    paper.refresh_from_db()
    assert paper.upvotes == 3 and paper.code_url == "https://github.com/MAC-AutoML/OmniScope"
    assert paper.categories == ["cs.CL"] and paper.version == 2
    assert Batch.objects.get(date=dt.date(2026, 7, 31)).entries.filter(paper=paper).count() == 1


@pytest.mark.django_db
def test_every_real_sample_ingests_and_the_errors_are_errors():
    ok, failed = 0, []
    for path in sorted(DATA.rglob("*")):
        if path.is_dir() or path.suffix not in {".xml", ".json", ".txt"} or EDGE in str(path) or "reference" in str(path):
            continue
        try:
            ingest_path(path)
            ok += 1
        except IngestError as exc:
            failed.append(str(exc))
    assert ok == 24
    assert len(failed) == 3
    assert any("Bad archive 'astroph'" in f for f in failed)
    assert sum("incorrect id format for abc" in f for f in failed) == 2


# --- feedparser's own edge cases: a clear message, never a traceback; good items land ------

EDGE_CASES = {
    # file: (papers stored, per-item errors, a feed-level warning expected, whole-feed error)
    "encoding__bozo_encoding_mismatch_crash.xml": (0, 1, True, None),
    "encoding__bozo_invalid-bytes-with-bom.xml": (0, 0, True, None),
    "encoding__demoronize-1.xml": (0, 1, False, None),
    "encoding__double-encoded-html.xml": (0, 1, False, None),
    "encoding__utf-8-bom.xml": (0, 0, False, None),
    "illformed__always_strip_doctype.xml": (0, 0, False, None),
    "illformed__rdf_channel_empty_textinput.xml": (1, 0, True, None),
    "illformed__rss_empty_document.xml": (0, 0, False, "no root element"),
    "illformed__rss_incomplete_cdata.xml": (0, 1, True, None),
    "illformed__rss_item_link_corrupted_ampersands.xml": (0, 1, True, None),
    "illformed__undeclared_namespace.xml": (0, 0, True, None),
    "wellformed__base__http_item_link_base_docuri.xml": (0, 1, False, None),
    "wellformed__rdf__doctype_contains_entity_decl.xml": (0, 0, False, None),
    "wellformed__rss__entity_in_doctype.xml": (0, 1, False, None),
    "wellformed__rss__item_description_escaped_markup.xml": (0, 1, False, None),
    "wellformed__rss__item_description_naked_markup.xml": (0, 1, False, None),
    "wellformed__sanitize__item_description_crazy.xml": (0, 1, False, None),
}


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(EDGE_CASES))
def test_feedparser_edge_cases(name, capsys):
    stored, errors, warned, fatal = EDGE_CASES[name]
    path = data_file(f"{EDGE}/{name}")
    if fatal:
        with pytest.raises(CommandError, match=fatal):
            call_command("ingest", str(path))
        assert Paper.objects.count() == 0
        return
    call_command("ingest", str(path))
    out, err = capsys.readouterr()
    assert f"{stored} new" in out and f"{errors} errors" in out
    assert "Traceback" not in err
    if warned:
        assert "not well-formed XML" in err
    if errors:
        assert "no title; skipped" in err
    assert Paper.objects.count() == stored


def item(title="A title", description="Body text", guid="oai:arXiv.org:2501.00001v1", extra=""):
    return (f"<item><title>{title}</title><link>https://arxiv.org/abs/2501.00001</link>"
            f"<description>arXiv:2501.00001v1 Announce Type: new \nAbstract: {description}</description>"
            f"<guid isPermaLink='false'>{guid}</guid><arxiv:announce_type>new</arxiv:announce_type>{extra}</item>")


def feed(*items) -> bytes:
    return ("<?xml version='1.0' encoding='UTF-8'?><rss xmlns:arxiv='http://arxiv.org/schemas/atom' "
            "xmlns:dc='http://purl.org/dc/elements/1.1/' version='2.0'><channel>"
            "<title>cs.LG updates on arXiv.org</title><pubDate>Mon, 27 Apr 2026 00:00:00 -0400</pubDate>"
            + "".join(items) + "</channel></rss>").encode()


@pytest.mark.django_db
def test_a_newer_version_updates_the_paper_and_keeps_the_version():
    ingest_bytes(feed(item(title="First take")))
    v2 = item(title="Second take", description="Revised body", guid="oai:arXiv.org:2501.00001v2")
    summary = ingest_bytes(feed(v2))
    assert (summary.new, summary.updated) == (0, 1)
    paper = Paper.objects.get()
    assert (paper.version, paper.title, paper.abstract) == (2, "Second take", "Revised body")
    assert ingest_bytes(feed(item(title="First take"))).updated == 0  # v1 again changes nothing
    paper.refresh_from_db()
    assert (paper.version, paper.title) == (2, "Second take")


@pytest.mark.django_db
def test_script_tags_and_handlers_stay_inert_text(client):
    hostile = "&lt;script&gt;alert(1)&lt;/script&gt; &lt;img src=x onerror=alert(2)&gt; Title"
    ingest_bytes(feed(item(title=hostile, description="&lt;b onmouseover=alert(3)&gt;bold&lt;/b&gt;")))
    paper = Paper.objects.get()
    assert paper.title == "<script>alert(1)</script> <img src=x onerror=alert(2)> Title"  # text, as sent
    Batch.objects.get().publish()
    html = client.get("/").content.decode()
    assert "<script>alert(1)" not in html and "<img src=x" not in html and "<b onmouseover" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


@pytest.mark.django_db
def test_cr_lf_in_titles_are_folded():
    ingest_bytes(feed(item(title="Line one\r\nLine two&#13;&#10;three")))
    assert Paper.objects.get().title == "Line one Line two three"


@pytest.mark.django_db
def test_missing_ids_and_titles_are_reported_per_item_and_good_items_land():
    summary = ingest_bytes(feed(
        item(title=""),
        item(guid="", title="No id anywhere").replace("https://arxiv.org/abs/2501.00001", "https://example.org/x"),
        item(title="Good one", guid="oai:arXiv.org:2501.00002v1").replace("2501.00001", "2501.00002"),
    ))
    assert summary.line() == "3 papers: 1 new, 0 updated, 0 unchanged, 2 errors"
    assert any("no title; skipped" in m for m in summary.messages)
    assert any("no arXiv id" in m for m in summary.messages)
    assert Paper.objects.get().title == "Good one"


@pytest.mark.django_db
def test_an_entity_bomb_is_refused_quickly_without_expanding():
    import time

    bomb = (b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa">'
            + b"".join(b'<!ENTITY %s "%s">' % (bytes([98 + i]), (b"&" + bytes([97 + i]) + b";") * 10) for i in range(9))
            + b']><rss version="2.0"><channel><item><title>&j;</title><guid>oai:arXiv.org:2501.00001v1</guid></item></channel></rss>')
    start = time.monotonic()
    try:
        summary = ingest_bytes(bomb)
        titles = list(Paper.objects.values_list("title", flat=True))
        assert all(len(t) < 10_000 for t in titles)
        assert summary.total <= 1
    except IngestError as exc:
        assert "entit" in str(exc).lower() or "not a readable" in str(exc)
    assert time.monotonic() - start < 5


@pytest.mark.django_db
def test_wrong_encoding_does_not_crash():
    data = feed(item(title="Caf\xe9 na\xefve")).replace(b"encoding='UTF-8'", b"encoding='UTF-8'").replace(
        "Caf\xe9".encode(), b"Caf\xe9")
    summary = ingest_bytes(data)
    assert summary.total == 1
