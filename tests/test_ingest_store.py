import datetime as dt

import pytest
from django.core.management import call_command

from digest.ingest.pipeline import IngestError, ingest_bytes, ingest_path
from digest.ingest.records import PaperRecord, ParseResult
from digest.ingest.store import store
from digest.models import Batch, BatchEntry, Paper
from tests.conftest import PAGE, PAGE_DATE


@pytest.mark.django_db
def test_ingesting_the_page_stores_93_papers_in_page_order(page_bytes):
    summary = ingest_bytes(page_bytes, date=PAGE_DATE)
    assert summary.line() == "93 papers: 93 new, 0 updated, 0 unchanged, 0 errors"
    batch = Batch.objects.get(date=PAGE_DATE)
    entries = list(batch.entries.order_by("position").select_related("paper"))
    assert len(entries) == 93
    assert [e.position for e in entries] == list(range(1, 94))
    assert entries[0].paper.title.startswith("DreamSync")
    assert entries[-1].paper.title.startswith("AutoDiffusion")
    assert batch.status == Batch.Status.DRAFT


@pytest.mark.django_db
def test_ingesting_the_same_page_twice_changes_nothing(page_bytes):
    ingest_bytes(page_bytes, date=PAGE_DATE)
    before = list(Paper.objects.order_by("pk").values())
    entries_before = list(BatchEntry.objects.order_by("pk").values())
    summary = ingest_bytes(page_bytes, date=PAGE_DATE)
    assert summary.line() == "93 papers: 0 new, 0 updated, 93 unchanged, 0 errors"
    assert list(Paper.objects.order_by("pk").values()) == before
    assert list(BatchEntry.objects.order_by("pk").values()) == entries_before


@pytest.mark.django_db
def test_the_ingest_command_takes_the_page_date_and_prints_a_summary(capsys):
    call_command("ingest", str(PAGE))
    out = capsys.readouterr().out
    assert "93 papers: 93 new, 0 updated, 0 unchanged, 0 errors" in out
    assert Batch.objects.get().date == dt.date(2026, 3, 19)


@pytest.mark.django_db
def test_the_ingest_command_date_option_overrides(capsys):
    call_command("ingest", str(PAGE), "--date", "2026-03-20")
    assert Batch.objects.get().date == dt.date(2026, 3, 20)


@pytest.mark.django_db
def test_dry_run_stores_nothing(capsys):
    call_command("ingest", str(PAGE), "--dry-run")
    assert "93 papers: 93 new" in capsys.readouterr().out
    assert Paper.objects.count() == 0 and Batch.objects.count() == 0


@pytest.mark.django_db
def test_a_missing_file_is_a_one_line_error():
    with pytest.raises(IngestError, match="cannot read"):
        ingest_path("/nonexistent/file.txt")


@pytest.mark.django_db
def test_a_richer_source_enriches_and_never_erases():
    base = ParseResult(format="test", records=[PaperRecord(title="A Paper", abstract="Abstract one.", code_url="https://github.com/a/b")],
                       date=PAGE_DATE)
    store(base)
    richer = ParseResult(
        format="test",
        records=[PaperRecord(title="A Paper", abstract="Abstract one.", arxiv_id="2403.00001", version=1,
                             authors=["Ada Lovelace"], upvotes=12)],
        date=PAGE_DATE,
    )
    summary = store(richer)
    assert (summary.new, summary.updated) == (0, 1)
    paper = Paper.objects.get()
    assert paper.arxiv_id == "2403.00001" and paper.key == "arxiv:2403.00001"
    assert paper.authors == ["Ada Lovelace"] and paper.upvotes == 12
    assert paper.code_url == "https://github.com/a/b"  # kept
    assert BatchEntry.objects.count() == 1


@pytest.mark.django_db
def test_an_older_version_does_not_overwrite_a_newer_one():
    store(ParseResult(format="t", records=[PaperRecord(title="New title", abstract="v2 text", arxiv_id="2401.1", version=2)], date=PAGE_DATE))
    store(ParseResult(format="t", records=[PaperRecord(title="Old title", abstract="v1 text", arxiv_id="2401.1", version=1)], date=PAGE_DATE))
    paper = Paper.objects.get()
    assert (paper.title, paper.abstract, paper.version) == ("New title", "v2 text", 2)


@pytest.mark.django_db
def test_a_failure_half_way_stores_nothing(monkeypatch, page_bytes):
    from digest.ingest import store as store_module

    real_insert = store_module.insert_rows

    def boom(model, objs, **kwargs):
        if model is store_module.BatchEntry:
            raise RuntimeError("disk full")
        return real_insert(model, objs, **kwargs)

    monkeypatch.setattr(store_module, "insert_rows", boom)
    with pytest.raises(RuntimeError):
        ingest_bytes(page_bytes, date=PAGE_DATE)
    assert Paper.objects.count() == 0 and Batch.objects.count() == 0


@pytest.mark.django_db
def test_publish_command(capsys, page_bytes):
    ingest_bytes(page_bytes, date=PAGE_DATE)
    call_command("publish")
    assert "published the batch of 2026-03-19: 93 papers" in capsys.readouterr().out
    assert Batch.objects.get().is_published
    call_command("publish")
    assert "already published" in capsys.readouterr().out


@pytest.mark.django_db
def test_publish_without_a_batch_fails_with_a_reason():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no batch yet"):
        call_command("publish")


@pytest.mark.django_db
@pytest.mark.parametrize("hf_first", [True, False])
def test_a_hugging_face_paper_gets_its_arxiv_categories_from_another_source(hf_first):
    # Hugging Face's daily papers carry no arXiv categories; the arXiv feed does. Whichever
    # comes first, the stored paper ends with the categories, so category subscribers get it.
    hf = PaperRecord(title="Constitutional Midtraining", abstract="Alignment gains.", arxiv_id="2607.26654", upvotes=3)
    rss = PaperRecord(title="Constitutional Midtraining", abstract="Alignment gains.", arxiv_id="2607.26654",
                      categories=["cs.CL", "cs.AI"], primary_category="cs.CL", version=1)
    for record in ([hf, rss] if hf_first else [rss, hf]):
        store(ParseResult(format="test", records=[record]), date=dt.date(2026, 8, 3))
    paper = Paper.objects.get(arxiv_id="2607.26654")
    assert paper.categories == ["cs.CL", "cs.AI"] and paper.primary_category == "cs.CL" and paper.upvotes == 3
