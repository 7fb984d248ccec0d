"""Hostile or broken inputs to ingest: wrong JSON types lose only their own item, local files
are capped like HTTP bodies, UTF-16 XML is read, errors never echo a file's bytes, and text is
stored as plain text without bidi overrides or invisible characters."""

import json
import time

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from digest.ingest.formats import parse
from digest.ingest.pipeline import IngestError, ingest_bytes, ingest_path
from digest.models import Paper
from tests.test_ingest_sources import feed, item


def hf_item(arxiv_id, title="A good paper", **paper_fields):
    paper = {"id": arxiv_id, "title": title, "summary": "An abstract.", "authors": [{"name": "Ann Lee"}],
             "publishedAt": "2026-03-18T00:00:00.000Z", "upvotes": 3, **paper_fields}
    return {"paper": paper, "publishedAt": "2026-03-18T20:00:00.000Z", "title": title}


@pytest.mark.django_db
def test_hf_items_with_wrong_types_are_skipped_one_by_one():
    items = [
        hf_item("2603.00001"),
        {**hf_item("2603.00002"), "submittedBy": "not an object"},
        hf_item("2603.00003", authors=5),
        hf_item("2603.00004", upvotes=1e30),
        hf_item("2603.00005", upvotes=10**30),
        hf_item("2603.00006", title=["a", "list"]),
        hf_item("2603.00007", authors=[{"name": {"first": "x"}}]),
        {**hf_item("2603.00008"), "numComments": "many"},
        hf_item("2603.00009", title="Also good"),
    ]
    summary = ingest_bytes(json.dumps(items).encode())
    assert sorted(Paper.objects.values_list("arxiv_id", flat=True)) == ["2603.00001", "2603.00009"]
    assert summary.errors == 7
    messages = "\n".join(summary.messages)
    for number, field in [(2, "submittedBy"), (3, "authors"), (4, "upvotes"), (5, "upvotes"), (6, "title"),
                          (7, "authors"), (8, "numComments")]:
        assert f"item {number}: {field}" in messages, messages


@pytest.mark.django_db
def test_deeply_nested_json_loses_only_its_own_item():
    nested = "[" * 100_000 + "]" * 100_000
    data = "[" + json.dumps(hf_item("2603.00001")) + ', {"paper": ' + nested + "}, " + json.dumps(
        hf_item("2603.00002", title="Second")) + "]"
    start = time.monotonic()
    summary = ingest_bytes(data.encode())
    assert time.monotonic() - start < 10
    assert sorted(Paper.objects.values_list("arxiv_id", flat=True)) == ["2603.00001", "2603.00002"]
    assert summary.errors == 1 and "item 2: nested too deeply" in "\n".join(summary.messages)


@pytest.mark.django_db
def test_a_json_document_nested_too_deeply_as_a_whole_is_a_clear_error():
    for data in ('{"a":' * 100_000 + "1" + "}" * 100_000,):
        with pytest.raises(IngestError, match="nested too deeply"):
            ingest_bytes(data.encode())
    summary = ingest_bytes(("[" * 100_000 + "]" * 100_000).encode())  # one item, nested
    assert summary.errors == 1 and "item 1: nested too deeply" in summary.messages[0]


@pytest.mark.django_db
def test_local_files_are_capped_like_http_bodies(settings, tmp_path):
    settings.INGEST_MAX_BYTES = 1_000_000
    start = time.monotonic()
    with pytest.raises(CommandError, match="larger than 1 MB"):
        call_command("ingest", "/dev/zero")
    assert time.monotonic() - start < 5
    big = tmp_path / "big.xml"
    big.write_bytes(feed(item()) + b" " * 2_000_000)
    with pytest.raises(IngestError, match="larger than 1 MB"):
        ingest_path(big)


@pytest.mark.django_db
@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_xml_is_decoded(codec):
    text = feed(item(title="Caf\u00e9 \u2014 na\u00efve")).decode().replace("encoding='UTF-8'", "encoding='UTF-16'")
    data = text.encode(codec)
    if codec != "utf-16":  # no BOM: the declaration's own bytes give the byte order away
        assert not data.startswith((b"\xff\xfe", b"\xfe\xff"))
    summary = ingest_bytes(data)
    assert summary.new == 1 and Paper.objects.get().title == "Caf\u00e9 \u2014 na\u00efve"


@pytest.mark.django_db
def test_utf16_json_is_decoded():
    summary = ingest_bytes(json.dumps([hf_item("2603.00001", title="Caf\u00e9")]).encode("utf-16"))
    assert summary.new == 1 and Paper.objects.get().title == "Caf\u00e9"


@pytest.mark.django_db
def test_errors_never_echo_a_local_files_bytes(tmp_path, capsys):
    secret = tmp_path / "shadow"
    secret.write_text("root:$6$SECRETHASH$abcdefgh:19000:0:99999:7:::\ndaemon:*:19000\n")
    with pytest.raises(CommandError) as info:
        call_command("ingest", str(secret))
    everything = str(info.value) + "".join(capsys.readouterr())
    assert "unrecognised input format" in everything
    assert "SECRETHASH" not in everything and "root:" not in everything


def test_parse_errors_do_not_echo_content_either():
    from digest.ingest.records import ParseError

    with pytest.raises(ParseError) as info:
        parse(b"password=hunter2 and more private text")
    assert "hunter2" not in str(info.value)


BIDI = "\u202e\u202a\u202b\u202c\u202d\u2066\u2067\u2068\u2069\u200e\u200f"
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"


@pytest.mark.django_db
def test_bidi_overrides_and_zero_width_characters_are_stripped_from_every_field():
    title = f"Safe\u202etxt.exe{ZERO_WIDTH} title"
    abstract = f"An{BIDI} abstract\u200b here."
    hf = [hf_item("2603.00001", title=title, summary=abstract,
                  authors=[{"name": "Ann\u200d Lee\u202e"}, {"name": "\u2067Bob\u2069"}])]
    ingest_bytes(json.dumps(hf).encode())
    rss = feed(item(title=title, description=abstract, guid="oai:arXiv.org:2603.00002v1",
                    extra=f"<dc:creator>Carol\u202e Diaz, Dan{ZERO_WIDTH}</dc:creator>"))
    ingest_bytes(rss.replace(b"2501.00001", b"2603.00002"))
    for paper in Paper.objects.all():
        for text in [paper.title, paper.abstract, *paper.authors]:
            assert not set(text) & set(BIDI + ZERO_WIDTH), repr(text)
    hf_paper = Paper.objects.get(arxiv_id="2603.00001")
    assert hf_paper.title == "Safetxt.exe title" and hf_paper.authors == ["Ann Lee", "Bob"]
    assert Paper.objects.get(arxiv_id="2603.00002").authors == ["Carol Diaz", "Dan"]


@pytest.mark.django_db
def test_author_names_are_stored_as_plain_text(client):
    from digest.models import Batch

    hf = [hf_item("2603.00001", authors=[{"name": "Ann &lt;Lee&gt; &amp; Co"}, {"name": "O&#39;Brien"}])]
    ingest_bytes(json.dumps(hf).encode())
    paper = Paper.objects.get()
    assert paper.authors == ["Ann <Lee> & Co", "O'Brien"]
    Batch.objects.get().publish()
    atom = client.get("/feed/atom/").content.decode()
    assert "<name>Ann &lt;Lee&gt; &amp; Co, O'Brien</name>" in atom  # escaped once, by the XML writer
    assert "Ann &lt;Lee&gt; &amp; Co" in client.get(f"/paper/{paper.identifier}/").content.decode()


@pytest.mark.django_db
def test_stored_rows_are_cleaned_by_the_data_migration():
    from importlib import import_module

    from django.apps import apps

    Paper.objects.create(key="arxiv:2603.00001", arxiv_id="2603.00001", title="Evil\u202e title\u200b",
                         abstract="Text\u2066 here", authors=["Ann &lt;Lee&gt;\u200d", "Bob &amp; Co"])
    migration = import_module("digest.migrations.0007_plain_text_authors")
    migration.clean_stored_text(apps, None)
    paper = Paper.objects.get()
    assert (paper.title, paper.abstract, paper.authors) == ("Evil title", "Text here", ["Ann <Lee>", "Bob & Co"])
