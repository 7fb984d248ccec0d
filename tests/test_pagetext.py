import datetime as dt

import pytest

from digest.ingest import pagetext
from digest.ingest.links import clean_url, code_and_project
from digest.ingest.records import ParseError

TODAY = dt.date(2026, 11, 26)


def test_it_parses_all_93_papers_in_page_order(page_bytes):
    result = pagetext.parse(page_bytes, today=TODAY)
    assert result.errors == []
    assert len(result.records) == 93
    assert result.records[0].title == (
        "DreamSync: Aligning Text-to-Image Generation with Image Understanding Feedback"
    )
    assert result.records[-1].title == (
        "AutoDiffusion: Training-Free Optimization of Time Steps and Architectures for "
        "Automated Diffusion Model Acceleration"
    )
    assert result.records[1].title == "Mirage: Model-Agnostic Graph Distillation for Graph Classification"


def test_it_keeps_abstracts_exact(page_bytes):
    lines = [line for line in page_bytes.decode().splitlines() if line.strip()]
    result = pagetext.parse(page_bytes, today=TODAY)
    assert result.records[0].abstract == lines[6]
    assert result.records[-1].abstract == lines[-1]
    assert result.records[-1].abstract.endswith("https://github.com/lilijiangg/AutoDiffusion.")


def test_the_page_date_is_the_latest_such_day_not_in_the_future(page_bytes):
    assert pagetext.parse(page_bytes, today=TODAY).date == dt.date(2026, 3, 19)
    assert pagetext.parse(page_bytes, today=dt.date(2026, 3, 19)).date == dt.date(2026, 3, 19)
    assert pagetext.parse(page_bytes, today=dt.date(2026, 3, 18)).date == dt.date(2025, 3, 19)


def test_a_date_line_with_a_year_is_taken_as_written():
    assert pagetext.parse_date_line("Mar 19, 2024", TODAY) == dt.date(2024, 3, 19)
    assert pagetext.parse_date_line("Feb 29", dt.date(2026, 11, 26)) == dt.date(2024, 2, 29)
    assert pagetext.parse_date_line("Subscribe", TODAY) is None


def test_it_cleans_the_code_links_the_real_page_has(page_bytes):
    by_title = {r.title.split(":")[0]: r for r in pagetext.parse(page_bytes, today=TODAY).records}
    assert by_title["LoLDU"].code_url == "https://github.com/SKDDJ/LoLDU"
    assert by_title["Unlocking Continual Learning Abilities in Language Models"].code_url == (
        "https://github.com/wenyudu/MIGU"
    )
    assert by_title["On Giant's Shoulders"].code_url == "https://github.com/Facico/Dynamic-Logit-Fusion"
    assert by_title["Stacking Your Transformers"].project_url == "https://llm-stacking.github.io/"
    assert by_title["Stacking Your Transformers"].code_url == ""
    assert by_title["Elucidating The Design Space of Classifier-Guided Diffusion Generation"].code_url == (
        "https://github.com/AlexMaOLS/EluCD/tree/main"
    )
    with_code = [r for r in pagetext.parse(page_bytes, today=TODAY).records if r.code_url]
    assert len(with_code) == 30
    for record in with_code:
        assert record.code_url[-1] not in ".,;:){}", record.code_url
        assert "{" not in record.code_url


@pytest.mark.parametrize(
    "raw, clean",
    [
        ("https://github.com/SKDDJ/LoLDU{https://github.com/SKDDJ/LoLDU}.", "https://github.com/SKDDJ/LoLDU"),
        ("https://github.com/wenyudu/MIGU{this", "https://github.com/wenyudu/MIGU"),
        ("https://github.com/Facico/Dynamic-Logit-Fusion.)", "https://github.com/Facico/Dynamic-Logit-Fusion"),
        ("https://en.wikipedia.org/wiki/Foo_(bar)", "https://en.wikipedia.org/wiki/Foo_(bar)"),
        ("https://example.org/x.", "https://example.org/x"),
        ("javascript:alert(1)", None),
        ("https://localhost", None),
    ],
)
def test_clean_url(raw, clean):
    assert clean_url(raw) == clean


def test_code_and_project_split_by_host():
    code, project = code_and_project(
        "See https://huggingface.co/org/model and code at https://gitlab.com/a/b."
    )
    assert code == "https://gitlab.com/a/b"
    assert project == "https://huggingface.co/org/model"


def test_a_page_without_a_date_line_is_an_error():
    with pytest.raises(ParseError, match="no date line"):
        pagetext.parse(b"Just some text\n\nwith no date\n", today=TODAY)


def test_a_title_without_an_abstract_is_reported_and_the_rest_kept():
    text = (
        "Mar 19\n\nGood title\n\n" + "An abstract long enough to count as one. " * 3
        + "\n\nLonely title at the end\n"
    ).encode()
    result = pagetext.parse(text, today=TODAY)
    assert [r.title for r in result.records] == ["Good title"]
    assert len(result.errors) == 1 and "Lonely title" in result.errors[0]


def test_cr_lf_and_control_characters_never_survive_in_a_title():
    text = ("Mar 19\r\n\r\nTitle\x07 with bell\r\n\r\n" + "Abstract text that is long enough. " * 3).encode()
    record = pagetext.parse(text, today=TODAY).records[0]
    assert record.title == "Title with bell"
