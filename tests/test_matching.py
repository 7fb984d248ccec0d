"""Matching v1: pure functions, no database."""

from pathlib import Path

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


def test_phrases_match_in_order_best_and_within_a_window_in_any_order():
    idx = index_of(("Knowledge distillation for LLMs", ""), ("Distillation of knowledge", ""),
                   ("Knowledge of the world", "and a long sentence that has nothing to do with it, then distillation"))
    found = match(Interests.build(keywords='"knowledge distillation"'), idx)
    assert [m.paper_id for m in found] == [0, 1]
    assert found[0].score > found[1].score


def test_an_about_me_backs_abstract_mentions_instead_of_the_word_alone():
    idx = index_of(("Pruning everything", "We prune networks."),
                   ("Sparse networks", "Pruning helps. We study pruning at scale."),
                   ("Filler one", "Unrelated text about galaxies."), ("Filler two", "Unrelated text about stars."))
    # Typed alone, the keyword is all the evidence: two abstract mentions clear the floor, as before.
    alone = match(Interests.build(keywords="pruning"), idx)
    assert [m.paper_id for m in alone] == [0, 1]
    # Next to an about-me, a keyword weighs the title more and itself less (Weights.title_backed,
    # keyword_backed): the title paper still passes, an abstract-only one needs the about-me
    # to agree, and this about-me is about something else.
    backed = match(Interests.build(keywords="pruning", about="Chemistry of interstellar dust grains"), idx)
    assert [m.paper_id for m in backed] == [0]
    assert backed[0].score == pytest.approx(0.7 * (7 / 9) / (6 / 8), abs=1e-3)
    assert backed[0].reasons[0].strength == "core"


def test_acronyms_meet_their_expansions_both_ways():
    idx = index_of(("Scaling graph neural networks", ""), ("GNNs at scale", ""), ("Mixture of experts routing", ""),
                   ("Agents", "Large language models deployed as agents in the wild."))
    def ids(q):
        return [m.paper_id for m in match(Interests.build(keywords=q, strictness="broad"), idx)]
    assert ids("GNN") == ids("graph neural network") == [0, 1]
    assert ids("MoE") == [2]
    assert ids("LLM agents") == [3]


def test_acronyms_are_learned_from_the_corpus():
    from digest.matching import CorpusStats

    docs = [PaperDoc(id=i, title="t", abstract="We train spiking neural networks (SNNs) on chips.") for i in range(3)]
    assert CorpusStats.fit(docs, semantic=False).acronyms["snn"] == (("spik", "neural", "network"),)


def test_a_term_meets_the_acronyms_of_longer_names_it_ends():
    idx = index_of(("Jailbreaking LLMs", "We attack chat assistants."), ("Probing VLMs", "Vision encoders."),
                   ("Pruning CNNs", "Filters."))
    def ids(q):
        return [m.paper_id for m in match(Interests.build(keywords=q, strictness="broad"), idx)]
    # A large language model is a language model: the exclusion drops a paper that only says "LLMs".
    assert ids("jailbreaking, probing, -language model") == []
    assert ids("language model") == [0, 1]
    assert ids("neural network") == [2]


def test_an_acronym_found_for_a_term_counts_only_in_capitals_and_in_its_own_sense():
    from digest.matching import CorpusStats

    defining = [PaperDoc(id=i, title="Sampling", abstract="We use importance sampling (IS) for estimates.")
                for i in range(3)]
    papers = [PaperDoc(id=10, title="What is it", abstract="This is a study of it.", order=10),
              PaperDoc(id=11, title="Variance of IS estimators", abstract="", order=11),
              PaperDoc(id=12, title="Robust ASR", abstract="Noisy speech.", order=12),
              PaperDoc(id=13, title="Jailbreaks", abstract="We raise the attack success rate (ASR) of jailbreaks.",
                       order=13)]
    idx = PaperIndex(papers, stats=CorpusStats.fit(defining + papers, semantic=False))
    def ids(q):
        return [m.paper_id for m in match(Interests.build(keywords=q, strictness="broad"), idx)]
    assert ids("importance sampling") == [11]
    assert ids("speech recognition") == [12]  # paper 13 defines ASR as something else


def test_roman_numerals_and_two_letter_acronyms_defined_once_are_not_learned():
    from digest.matching import CorpusStats

    docs = [PaperDoc(id=1, title="t", abstract="An instrumental variable (IV) design and a topological order (TO)."),
            PaperDoc(id=2, title="t", abstract="Federated learning (FL) on phones."),
            PaperDoc(id=3, title="t", abstract="Federated learning (FL) on cars.")]
    acronyms = CorpusStats.fit(docs, semantic=False).acronyms
    assert "iv" not in acronyms and "to" not in acronyms
    assert acronyms["fl"] == (("federat", "learn"),)


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
    assert (topic_reason.word, topic_reason.field, topic_reason.strength) == ("LoRA", "title", "core")
    assert any(r.kind == "keyword" and r.label == "adapters" for r in m.reasons)
    assert 'PEFT: "LoRA" in title' in m.explain()


def test_passing_mentions_drop_unless_broad_and_then_go_last():
    idx = index_of(
        ("Other", "mentions pruning once"),  # one passing mention
        ("Pruning everything", "pruning"),  # title and abstract
        ("More", "also about pruning"),  # one passing mention, later on the page
    )
    assert [m.paper_id for m in match(Interests.build(keywords="pruning"), idx)] == [1]
    assert [m.paper_id for m in match(Interests.build(keywords="pruning", strictness="strict"), idx)] == [1]
    found = match(Interests.build(keywords="pruning", strictness="broad"), idx)
    assert [m.paper_id for m in found] == [1, 0, 2]
    # One title mention counts 1 (a term this specific); title + abstract saturates above it.
    assert found[0].score == pytest.approx((4 / 6) / (3 / 5), abs=1e-4)
    assert found[1].score == found[2].score == pytest.approx((1 / 3) / (3 / 5), abs=1e-4)
    assert found[1].reasons[0].strength == "passing" and "passing mention" in found[1].explain()


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
    assert b in match_many([a], idx) and Interests.build(keywords="quantum") not in match_many([a], idx)


def test_two_interest_sets_with_one_hash_are_still_told_apart():
    # match_many deduplicates on the hashes; a collision (forged here) must not merge rows.
    idx = index_of(("Pruning", ""), ("LoRA adapters", ""))
    a, b = Interests.build(keywords="pruning"), Interests.build(keywords="LoRA")
    object.__setattr__(b, "_hash", a._hash)
    rankings = match_many([a, b, a], idx)
    assert len(rankings) == 2
    assert rankings[a].positions.tolist() == [0] and rankings[b].positions.tolist() == [1]
    assert Interests.build(keywords="quantum") not in rankings


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


def test_a_category_next_to_other_interests_weighs_more_the_narrower_it_is():
    from digest.matching import Weights

    w = Weights()
    assert w.category_weight(0.5) == w.category_weight(0.15) == w.category == 0.3
    assert w.category_weight(0.03) == w.category_weight(0.001) == w.category_narrow == 0.7
    shares = [0.14, 0.1, 0.06, 0.04]
    assert [w.category_weight(s) for s in shares] == sorted(w.category_weight(s) for s in shares)


@pytest.fixture(scope="module")
def feed_index():
    from digest.ingest.formats import parse
    from tests.conftest import data_file

    records = parse(data_file("arxiv_rss_new/aioarxiv_rss_20archives_2024-11-28_full1504items.xml").read_bytes()).records
    return PaperIndex([PaperDoc(id=i, title=r.title, abstract=r.abstract, authors=tuple(r.authors),
                                categories=tuple(r.categories), order=i) for i, r in enumerate(records)])


def test_category_shares_come_from_the_stored_papers(feed_index):
    # hep-ph holds 4.6% of the feed, cs.LG 14.5%, math.CO 2.8%; "cs.*" most of it.
    assert feed_index.category_value("cs.LG", alone=False) == pytest.approx(0.31, abs=0.01)
    assert 0.55 < feed_index.category_value("hep-ph", alone=False) < 0.65
    assert feed_index.category_value("math.CO", alone=False) == 0.7
    assert feed_index.category_value("cs.*", alone=False) == 0.3
    assert feed_index.category_value("cs.LG", alone=True) == feed_index.category_value("hep-ph", alone=True) == 1.0


def test_an_about_me_keeps_a_topic_to_its_own_sense(feed_index):
    from digest.starter_topics import STARTER_TOPICS

    topic = next((name, query) for name, slug, query in STARTER_TOPICS if slug == "optimizers")
    about = ("Optimization for machine learning: convergence of stochastic gradient methods, nonconvex and "
             "distributed optimization, learning-rate schedules and training dynamics.")
    titles = {d.id: d.title for d in feed_index.papers}

    def selected(**typed):
        return {titles[m.paper_id] for m in match(Interests.build(topics=[topic], **typed), feed_index)}

    physics = {"Topological Momentum Skyrmions in Mie Scattering Fields",
               "Nonlinear bound states with prescribed angular momentum"}
    optimizer = "Distributed Sign Momentum with Local Steps for Training Transformers"
    # The topic alone cannot tell momentum in optimisers from momentum in physics (a title
    # mention passes its floor).
    alone = selected()
    assert optimizer in alone and physics & alone
    # Next to an about-me, the topic counts as far as the paper is close to it.
    gated = selected(about=about)
    assert optimizer in gated and not physics & gated


def test_a_broad_term_weighs_less_next_to_narrower_interests():
    from digest.matching import Weights

    w = Weights()
    assert w.topic_weight(0.01) == w.topic_weight(0.03) == 1.0
    assert w.topic_weight(0.15) == w.topic_weight(0.5) == w.topic_broad == 0.5
    assert 0.5 < w.topic_weight(0.08) < 0.7  # the LLM topic's share: just under the floor alone


def test_a_broad_keyword_is_the_field_around_the_others(feed_index):
    [llm] = parse_terms("LLM")
    # "LLM" is in 123 of the feed's 1,504 papers (8%): next to other keywords it counts 0.69.
    assert len(feed_index.term_values(llm)) == 123 and feed_index.keyword_factor(llm) == pytest.approx(0.69, abs=0.01)
    alone = {m.paper_id for m in match(Interests.build(keywords="LLM"), feed_index)}
    beside = {m.paper_id for m in match(Interests.build(keywords="LLM, code generation"), feed_index)}
    assert len(alone) >= 30  # typed alone, the keyword is the whole wish
    assert len(beside) < len(alone) / 4
    # Next to cs.* (a category, not a narrower interest) it is still the whole wish.
    assert {m.paper_id for m in match(Interests.build(keywords="LLM", categories="cs.*"), feed_index)} >= alone & {
        d.id for d in feed_index.papers if any(c.startswith("cs.") for c in d.categories)}


def test_only_batch_ranking_loads_the_compiler():
    """numba takes a fifth of a second to import: the web and other processes that never
    rank many subscribers at once must not pay it; match_many loads it on first use."""
    import subprocess
    import sys

    code = ("import sys; import digest.matching as m; before = 'numba' in sys.modules; "
            "i = m.Interests.build(keywords='quantum'); "
            "m.match_many([i], m.PaperIndex([m.PaperDoc(id=1, title='Quantum codes')])); "
            "print(before, 'numba' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=str(Path(__file__).resolve().parent.parent))
    assert out.stdout.split() == ["False", "True"]


def test_without_a_writable_cache_folder_the_loop_compiles_in_memory(caplog):
    """numba refuses to cache a function when it finds no folder it may write (read-only
    code, no home); kernel.compiled() then compiles in memory, with a warning naming the
    setting, instead of failing the import. A function from generated source has no file,
    which is the same refusal."""
    from digest.matching.kernel import compiled

    namespace = {}
    exec(compile("def add_one(x):\n    return x + 1\n", "<generated>", "exec"), namespace)
    with caplog.at_level("WARNING", logger="digest.matching.kernel"):
        add_one = compiled(nogil=True)(namespace["add_one"])
    assert add_one(41) == 42
    assert "no locator available" in caplog.text and "NUMBA_CACHE_DIR" in caplog.text


def test_the_loop_sorts_rows_of_every_length_and_spread():
    """kernel._sort: insertion for short rows, buckets then insertion for long ones; exact
    for any spread of keys (packed scores span up to 2**45), clustered or not."""
    import numpy as np

    from digest.matching.kernel import _sort

    rng = np.random.default_rng(3)
    counts, spare = np.empty(2_049, dtype=np.int64), np.empty(2_048, dtype=np.int64)
    for m in (0, 1, 2, 31, 32, 33, 64, 65, 200, 2_048):
        for spread in (m + 1, 2**20, 2**45):
            keys = rng.choice(spread, size=m, replace=False) if spread < 2**31 else \
                np.unique(rng.integers(0, spread, size=m))
            keys = keys.astype(np.int64)
            if m > 3:
                keys[: m // 3] = np.sort(keys[: m // 3])[::-1]  # a run in reverse, as scores often come
            tail = rng.integers(0, 9, size=5)
            buffer = np.concatenate([keys, tail])  # past m: left alone
            _sort(buffer, len(keys), counts, spare)
            assert buffer[:len(keys)].tolist() == sorted(keys.tolist())
            assert buffer[len(keys):].tolist() == tail.tolist()
    # Keys clustered beside one far outlier land in one bucket, which is sorted on its own
    # (m log m); an insertion sort over the cluster would be quadratic. 7,000 keys, as a
    # weekly edition's row can keep: about 10x the time of keys spread evenly, 95x without.
    import time

    clustered = np.concatenate([[2**44], 2**40 + rng.permutation(7_000) * 2_048]).astype(np.int64)
    spread = (rng.permutation(7_001) * 2**30).astype(np.int64)
    counts, spare = np.empty(7_002, dtype=np.int64), np.empty(7_001, dtype=np.int64)

    def best(keys):
        times = []
        for _ in range(7):
            buffer = keys.copy()
            start = time.perf_counter()
            _sort(buffer, len(buffer), counts, spare)
            times.append(time.perf_counter() - start)
            assert buffer.tolist() == sorted(keys.tolist())
        return min(times)

    assert best(clustered) < 40 * best(spread)
