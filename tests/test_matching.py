"""Matching v1: pure functions, no database."""

import pytest

from digest.ingest import pagetext
from digest.matching import Interests, PaperDoc, PaperIndex, match, match_many, parse_terms
from digest.text import stem
from tests.conftest import PAGE


def index_of(*papers):
    return PaperIndex([PaperDoc(id=i, title=t, abstract=a, order=i) for i, (t, a) in enumerate(papers)])


@pytest.mark.parametrize("word", ["pruning", "prune", "pruned", "prunes", "Pruning"])
def test_inflections_meet(word):
    idx = index_of(("On " + word + " networks", ""))
    assert match(Interests.build(keywords="pruning"), idx)
    assert match(Interests.build(keywords="prune"), idx)


def test_derivations_stay_apart():
    assert stem("optimizer") != stem("optimal") != stem("optimization")


def test_whole_words_only():
    idx = index_of(("Explorations of exploration", "We explore."), ("LoRA for everyone", ""))
    found = match(Interests.build(keywords="LoRA"), idx)
    assert [m.paper_id for m in found] == [1]


@pytest.mark.parametrize("text", ["fine-tuning", "finetuning", "Fine-Tuning", "Fine-tuning"])
@pytest.mark.parametrize("term", ["fine-tuning", "finetuning", "fine tuning"])
def test_hyphen_and_case_variants(text, term):
    idx = index_of((f"Efficient {text} of models", ""))
    assert match(Interests.build(keywords=term), idx), (term, text)


def test_phrases_need_their_words_in_order():
    idx = index_of(("Knowledge distillation for LLMs", ""), ("Distillation of knowledge", ""))
    found = match(Interests.build(keywords='"knowledge distillation"'), idx)
    assert [m.paper_id for m in found] == [0]


def test_exclusions_remove_papers():
    idx = index_of(("Pruning: a survey", ""), ("Pruning transformers", ""))
    found = match(Interests.build(keywords="pruning, -survey"), idx)
    assert [m.paper_id for m in found] == [1]


def test_each_match_records_which_terms_matched():
    idx = index_of(("LoRA adapters", "Parameter-efficient fine-tuning with low-rank adaptation."))
    interests = Interests.build(topics=[("PEFT", "LoRA, low-rank adaptation, prompt tuning")], keywords="adapters")
    [m] = match(interests, idx)
    topic_reason = next(r for r in m.reasons if r.kind == "topic")
    assert topic_reason.label == "PEFT"
    assert topic_reason.terms == ("LoRA", "low-rank adaptation")
    assert any(r.kind == "keyword" and r.label == "adapters" for r in m.reasons)
    assert "PEFT (LoRA, low-rank adaptation)" in m.explain()


def test_ordered_by_relevance_then_page_order():
    idx = index_of(
        ("Other", "mentions pruning once"),  # abstract only: 1
        ("Pruning everything", "pruning"),  # title and abstract: 4
        ("More", "also about pruning"),  # abstract only: 1, later on the page
    )
    found = match(Interests.build(keywords="pruning"), idx)
    assert [m.paper_id for m in found] == [1, 0, 2]
    assert [m.score for m in found] == [4.0, 1.0, 1.0]


def test_categories_with_wildcards_and_authors():
    idx = PaperIndex([
        PaperDoc(id=1, title="A", categories=("cs.CL",), authors=("Jürgen Schmidhuber",)),
        PaperDoc(id=2, title="B", categories=("cs.LG", "stat.ML")),
        PaperDoc(id=3, title="C", categories=("math.CO",)),
    ])
    assert [m.paper_id for m in match(Interests.build(categories="cs.*"), idx)] == [1, 2]
    assert [m.paper_id for m in match(Interests.build(categories="stat.ML"), idx)] == [2]
    [m] = match(Interests.build(authors="jurgen schmidhuber"), idx)
    assert m.paper_id == 1 and m.reasons[0].explain() == "by Jürgen Schmidhuber"


def test_parse_terms():
    terms = parse_terms('LoRA, "knowledge distillation"; -survey\nfine-tuning,, ')
    assert [(t.text, t.exclude) for t in terms] == [
        ("LoRA", False), ("knowledge distillation", False), ("survey", True), ("fine-tuning", False),
    ]


def test_equal_interests_are_matched_once():
    idx = index_of(("Pruning", ""))
    a = Interests.build(keywords="pruning, LoRA")
    b = Interests.build(keywords="LoRA,pruning")
    assert a == b and hash(a) == hash(b)
    assert len(match_many([a, b], idx)) == 1


def test_nothing_matches_nothing():
    idx = index_of(("Pruning", ""))
    assert match(Interests.build(keywords="quantum chromodynamics"), idx) == []
    assert Interests.build().is_empty


def test_starter_topics_on_the_real_page():
    from digest.starter_topics import STARTER_TOPICS

    records = pagetext.parse(PAGE.read_bytes()).records
    idx = PaperIndex([PaperDoc(id=i, title=r.title, abstract=r.abstract, order=i) for i, r in enumerate(records)])
    by_slug = {slug: (name, query) for name, slug, query in STARTER_TOPICS}

    def titles(slug):
        return {records[m.paper_id].title.split(":")[0] for m in match(Interests.build(topics=[by_slug[slug]]), idx)}

    assert {"LoLDU", "IncreLoRA", "PELA", "NOLA"} <= titles("lora-peft")
    assert {"To prune, or not to prune", "Sparse Model Soups", "Compact Language Models via Pruning and Knowledge Distillation"} <= titles("pruning-compression")
    assert {"Label-Agnostic Forgetting", "Model Sparsity Can Simplify Machine Unlearning", "Intrinsic Evaluation of Unlearning Using Parametric Knowledge Traces"} <= titles("unlearning")
    assert "DreamSync" not in titles("unlearning")
