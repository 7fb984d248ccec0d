"""Every real sample in ../shared/data parses with the expected counts and fields."""

import datetime as dt

import pytest

from digest.ingest.feedtools import split_authors, split_id
from digest.ingest.formats import detect, parse
from digest.ingest.records import ParseError
from tests.conftest import data_file

FULL = "arxiv_rss_new/aioarxiv_rss_20archives_2024-11-28_full1504items.xml"

# (file, format, records, per-item errors, feed date)
REAL_SAMPLES = [
    (FULL, "arxiv_rss", 1504, 0, dt.date(2024, 11, 28)),
    ("arxiv_rss_new/layareader_rss_cs.LG+cs.AI+cs.CL+stat.ML_2026-09-24_trimmed4items.xml", "arxiv_rss", 4, 0, dt.date(2026, 9, 24)),
    ("arxiv_rss_new/distill_rss_cs.AI_2026-04-27_trimmed3items.xml", "arxiv_rss", 3, 0, dt.date(2026, 4, 27)),
    ("arxiv_rss_new/distill_rss_cs.CL_2026-04-27_trimmed3items.xml", "arxiv_rss", 3, 0, dt.date(2026, 4, 27)),
    ("arxiv_rss_new/distill_rss_cs.LG_2026-04-27_trimmed3items.xml", "arxiv_rss", 3, 0, dt.date(2026, 4, 27)),
    ("arxiv_rss_new/aioarxiv_rss_test-archive_empty_2024-11-28.xml", "arxiv_rss", 0, 0, dt.date(2024, 11, 28)),
    ("arxiv_rss_new/allnewsai_rss_cs.CL_saturday-empty_2026-08-01.xml", "arxiv_rss", 0, 0, dt.date(2026, 8, 1)),
    ("arxiv_rss_old/physbiblio_rss1.0_hep-ex_2018-05-23_extracted_from_test.rdf.xml", "arxiv_rdf", 3, 0, dt.date(2018, 5, 23)),
    ("arxiv_rss_old/physbiblio_rss1.0_hep-ex_2021-07-08_extracted_from_test_desc-placeholders.rdf.xml", "arxiv_rdf", 3, 0, dt.date(2021, 7, 8)),
    ("arxiv_rss_old/feedrs_bonus_biorxiv_rss1.0_genomics_2023-12.rdf.xml", "arxiv_rdf", 1, 0, None),
    ("arxiv_api_atom/arxivpy_legacyapi_2016_id_list_1111.2011v2.xml", "arxiv_api", 1, 0, None),
    ("arxiv_api_atom/arxivpy_legacyapi_2016_search_au_del_maestro_AND_ti_checkerboard.xml", "arxiv_api", 1, 0, None),
    ("arxiv_api_atom/sotawhat_api_2026-06-14_transformer_AND_cat_cs.LG_max5.xml", "arxiv_api", 5, 0, None),
    ("arxiv_api_atom/arxivpy_recorded_2026_id_1605.08386.json", "arxiv_api", 1, 0, None),
    ("arxiv_api_atom/arxivpy_recorded_2026_search_testing_max10.json", "arxiv_api", 10, 0, None),
    ("arxiv_api_atom/arxivpy_recorded_2026_id_astro-ph_0601001_oldstyle.json", "arxiv_api", 1, 0, None),
    ("arxiv_api_atom/arxivpy_recorded_2026_id_0000.0000.json", "arxiv_api", 0, 0, None),
    ("arxiv_api_atom/derived_bodies/arxivpy_recorded_2026_id_1605.08386.body.xml", "arxiv_api", 1, 0, None),
    ("arxiv_api_atom/derived_bodies/arxivpy_recorded_2026_search_testing_max10.body.xml", "arxiv_api", 10, 0, None),
    ("arxiv_api_atom/derived_bodies/arxivpy_recorded_2026_id_astro-ph_0601001_oldstyle.body.xml", "arxiv_api", 1, 0, None),
    ("arxiv_api_atom/derived_bodies/arxivpy_recorded_2026_id_0000.0000.body.xml", "arxiv_api", 0, 0, None),
    ("hf_daily_papers/allnewsai_hf_daily_papers_2026-07-31_pretty.json", "hf_daily", 5, 0, dt.date(2026, 7, 31)),
    ("hf_daily_papers/newsassistant_hf_daily_papers_limit3_2026-08-03_pretty.json", "hf_daily", 3, 0, dt.date(2026, 8, 3)),
    ("daily-papers-page.txt", "page_text", 93, 0, dt.date(2026, 3, 19)),
]


@pytest.mark.parametrize("name, fmt, count, errors, date", REAL_SAMPLES, ids=[s[0].split("/")[-1][:50] for s in REAL_SAMPLES])
def test_every_real_sample_parses(name, fmt, count, errors, date):
    result = parse(data_file(name).read_bytes(), today=dt.date(2026, 11, 26))
    assert result.format == fmt
    assert len(result.records) == count
    assert len(result.errors) == errors
    assert result.warnings == []
    assert result.date == date
    for record in result.records:
        assert record.title and "\n" not in record.title and "\r" not in record.title
        if fmt != "page_text" and "biorxiv" not in name:
            assert record.arxiv_id and record.abs_url.startswith("https://arxiv.org/abs/")


@pytest.mark.parametrize(
    "name, message",
    [
        ("arxiv_rss_new/aioarxiv_rss_bad-archive-error_2024-11-28.xml", "Bad archive 'astroph'"),
        ("arxiv_api_atom/arxivpy_recorded_2026_id_abc_HTTP400_error.json", "arXiv API error: incorrect id format for abc"),
        ("arxiv_api_atom/derived_bodies/arxivpy_recorded_2026_id_abc_HTTP400_error.body.xml", "incorrect id format for abc"),
    ],
)
def test_error_documents_are_errors_not_papers(name, message):
    with pytest.raises(ParseError, match=message):
        parse(data_file(name).read_bytes())


def test_full_feed_fields():
    result = parse(data_file(FULL).read_bytes())
    types = {}
    for r in result.records:
        types[r.announce_type] = types.get(r.announce_type, 0) + 1
    assert types == {"new": 926, "replace": 569, "cross": 9}
    assert sum(1 for r in result.records if r.doi) == 111
    assert sum(1 for r in result.records if r.journal_ref) == 97
    assert all(r.rights for r in result.records)
    assert max(len(r.categories) for r in result.records) == 6
    first = result.records[0]
    assert (first.arxiv_id, first.version, first.announce_date) == ("2411.17700", 1, dt.date(2024, 11, 28))
    assert not any(r.abstract.startswith("arXiv:") or "Announce Type" in r.abstract[:40] for r in result.records)
    replaced = next(r for r in result.records if r.announce_type == "replace")
    assert replaced.version and replaced.version > 1


def test_latex_stays_text_exactly():
    result = parse(data_file(FULL).read_bytes())
    by_id = {r.arxiv_id: r for r in result.records}
    texts = [r.abstract for r in result.records]
    # feedparser in its default mode would turn these into "<s><1" and "E&amp;E".
    assert any("$\\frac{1}{3}<s<1$" in t for t in texts)
    assert any("Explore and Exploit (E&E)" in t for t in texts)
    assert sum(1 for r in result.records if "$" in r.title or "\\" in r.title) >= 100
    assert by_id


def test_authors_with_affiliations_holding_commas_are_not_split():
    result = parse(data_file(FULL).read_bytes())
    with_affiliation = [a for r in result.records for a in r.authors if "(University of Birmingham" in a]
    assert with_affiliation and all(a.endswith(")") for a in with_affiliation)
    assert split_authors("A B (X, Y, Z), C D") == ["A B (X, Y, Z)", "C D"]


def test_arxiv_rss_cross_list_with_doi():
    result = parse(data_file(REAL_SAMPLES[1][0]).read_bytes())
    cross = [r for r in result.records if r.announce_type == "cross"]
    assert len(cross) == 1 and cross[0].doi == "10.1093/bioinformatics/btac431"
    assert [r.announce_type for r in result.records] == ["new", "new", "cross", "replace"]


def test_rss1_title_carries_version_category_and_kind():
    result = parse(data_file(REAL_SAMPLES[7][0]).read_bytes())
    got = [(r.arxiv_id, r.version, r.primary_category, r.announce_type) for r in result.records]
    assert got == [("1805.08875", 1, "hep-ex", "new"), ("1805.09166", 1, "hep-ex", "cross"), ("1805.06430", 2, "nucl-th", "replace")]
    first = result.records[0]
    assert first.title == "Measurement of Transverse Single Spin Asymmetries"
    assert first.authors == ["Christopher Dilks"]
    assert "<p>" not in first.abstract and "$2.6<\\eta<4$" in first.abstract
    assert result.records[2].authors[:2] == ["Shu-Sheng Xu", "Zhu-Fang Cui"]


def test_rss1_collaboration_authors():
    result = parse(data_file(REAL_SAMPLES[8][0]).read_bytes())
    assert result.records[0].authors == ["LHCb collaboration", "R. Aaij"]


def test_biorxiv_rss1_is_read_as_a_paper_without_arxiv_id():
    [record] = parse(data_file(REAL_SAMPLES[9][0]).read_bytes()).records
    assert record.arxiv_id == "" and record.title.startswith("Complete genome of the Medicago")
    assert record.doi == "10.1101/2023.12.16.571984"
    assert record.authors[:2] == ["N. LAPALU", "A. SIMON"]
    assert record.abs_url.startswith("http://biorxiv.org/cgi/content/short/")


def test_api_atom_fields_legacy_and_current():
    [legacy] = parse(data_file(REAL_SAMPLES[10][0]).read_bytes()).records
    assert (legacy.arxiv_id, legacy.version) == ("1111.2011", 2)
    assert legacy.title == "Quantum Criticality for Extended Nodes on a Bethe Lattice in the Large Connectivity Limit"
    assert legacy.abstract.startswith("Theoretical description of anisotropic systems")
    assert legacy.doi == "10.1103/PhysRevB.85.115117" and legacy.journal_ref == "Phys. Rev. B 85, 115117 (2012)"
    assert legacy.primary_category == "cond-mat.str-el" and legacy.categories == ["cond-mat.str-el", "cond-mat.stat-mech"]
    assert legacy.authors == ["James M. Murray", "Adrian Del Maestro", "Zlatko Tesanovic"]
    [old] = parse(data_file(REAL_SAMPLES[15][0]).read_bytes()).records
    assert (old.arxiv_id, old.version, old.primary_category) == ("astro-ph/0601001", 1, "astro-ph")
    assert old.affiliations["Andrew Gould"] == ["Ohio State"]
    assert old.affiliations["Andrzej Udalski"] == ["Warsaw University Observatory"]
    assert old.published == dt.date(2006, 1, 2)
    [checkerboard] = parse(data_file(REAL_SAMPLES[11][0]).read_bytes()).records
    assert checkerboard.arxiv_id == "cond-mat/0603029"


def test_hf_daily_fields_and_dates():
    result = parse(data_file(REAL_SAMPLES[21][0]).read_bytes())
    first = result.records[0]
    assert first.arxiv_id == "2607.23193"
    assert first.code_url == "https://github.com/MAC-AutoML/OmniScope" and first.stars == 3
    assert first.upvotes == 3 and first.authors[:2] == ["Jinsen Su", "Yongdong Luo"]
    # paper.submittedOnDailyAt, not the top-level publishedAt of the evening before
    assert first.announce_date == dt.date(2026, 7, 31) and first.published == dt.date(2026, 7, 28)
    assert first.submitter
    assert first.thumbnail == "https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/2607.23193.png"
    titles = [r.title for r in result.records]
    assert any("Σ-Mem" in t for t in titles) and any("β-OPSD" in t for t in titles)
    other = parse(data_file(REAL_SAMPLES[22][0]).read_bytes())
    assert any(r.project_url for r in other.records)


@pytest.mark.parametrize(
    "value, expected",
    [
        ("oai:arXiv.org:2411.12345v2", ("2411.12345", 2)),
        ("http://arxiv.org/abs/astro-ph/0601001v1", ("astro-ph/0601001", 1)),
        ("https://arxiv.org/abs/2403.00001", ("2403.00001", None)),
        ("2607.23193", ("2607.23193", None)),
        ("tag:example.com,2006:/blog/", ("", None)),
    ],
)
def test_split_id(value, expected):
    assert split_id(value) == expected


@pytest.mark.parametrize(
    "head, fmt",
    [
        (b"<?xml version='1.0'?><rss version='2.0'>", "arxiv_rss"),
        (b"<!-- c --><?xml version='1.0'?>\n<rdf:RDF xmlns:rdf='x'>", "arxiv_rdf"),
        (b"\xef\xbb\xbf<feed xmlns='http://www.w3.org/2005/Atom'>", "arxiv_api"),
        (b"[{\"paper\": {}}]", "hf_daily"),
        (b"new\n\nMar 19\n\nTitle\n\nAbstract", "page_text"),
    ],
)
def test_detect(head, fmt):
    assert detect(head) == fmt


@pytest.mark.parametrize("data, message", [
    (b"", "empty"),
    (b"<html><body>hi</body></html>", "unrecognised XML document <html>"),
    (b"PK\x03\x04binary", "unrecognised input format"),
    (b"{\"not\": \"a feed\"}", "neither a daily-papers array"),
    (b"[1, 2", "not valid JSON"),
])
def test_unknown_inputs_get_a_clear_error(data, message):
    with pytest.raises(ParseError, match=message):
        parse(data)
