"""The dense encoder (digest/matching/dense.py): the real all-MiniLM-L6-v2 weights that
`make model` installs in models/ (checked against the official SHA-256), run on real
papers of the shared data. A checkout without them fails here, with the command to run.

- A damaged or different file is refused with the file named; nothing falls back silently.
- The vectors mean what a sentence encoder's should: a paraphrase with none of the words
  is nearer than a paper of another field.
- Every path (one subscriber, a batch, the reference loop) ranks alike with it.
- On the devset's three newest reader sets, never tuned on, it reaches the figures recorded in
  benchmarks/README.md (precision@5 0.85 or more on a whole day), above the corpus-fitted LSA
  alone and far above a substring filter.
- With it, an index takes the encoder's own numbers (Weights.ENCODER), unless set otherwise.
- MATCH_EMBEDDING_MODEL hands it to the statistics every process ranks with."""

import shutil

import numpy as np
import pytest

from benchmarks import relevance
from digest.ingest.formats import parse
from digest.matching import CorpusStats, Interests, PaperDoc, PaperIndex, Weights, match_many, rank, reference_match
from digest.matching.closeness import sense_gate
from digest.matching import dense
from digest.matching.dense import BUNDLED_MODEL, PINNED, ModelError, TextEncoder, load_encoder, verify
from tests.conftest import data_file

MODEL = BUNDLED_MODEL


@pytest.fixture(scope="module")
def encoder():
    try:
        verify(MODEL)
    except ModelError as error:
        pytest.fail(f"{error}: `make model` installs it (`make test` does)")
    return load_encoder(MODEL)


@pytest.fixture(autouse=True)
def no_store_left_behind():
    # digest.corpus.dense_encoder() gives the process's one encoder a database store; the
    # tests without a database must not inherit it.
    yield
    for loaded in list(dense._loaded.values()):
        loaded.store = None


def test_a_damaged_or_missing_file_is_refused_by_name(tmp_path):
    for name in ("config.json", "tokenizer.json", "model.safetensors"):
        (tmp_path / name).write_bytes((MODEL / name).read_bytes() if name != "model.safetensors" else b"")
    with pytest.raises(ModelError, match=r"model\.safetensors has SHA-256 e3b0c442.*not the pinned 53aa5117"):
        verify(tmp_path)
    (tmp_path / "model.safetensors").unlink()
    with pytest.raises(ModelError, match=r"model\.safetensors is missing \(run `make model`\)"):
        TextEncoder(tmp_path)
    # A model of another kind, even with pinning turned off, is not read as BERT.
    shutil.copy(MODEL / "model.safetensors", tmp_path / "model.safetensors")
    (tmp_path / "config.json").write_text('{"model_type": "t5"}')
    with pytest.raises(ModelError, match="is a 't5' model, not BERT"):
        TextEncoder(tmp_path, pinned=None)
    assert set(PINNED) == {"model.safetensors", "tokenizer.json", "config.json"}


def test_vectors_find_meaning_beyond_the_words(encoder):
    texts = ["LLM agents", "large language models acting autonomously as tool-using assistants",
             "protein folding with deep learning", "A man is eating food.", "A man is eating a piece of bread.", ""]
    vectors = encoder.encode(texts)
    assert vectors.shape == (6, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors[:5], axis=1), 1.0, atol=1e-5) and not vectors[5].any()
    cos = vectors @ vectors.T
    assert cos[0, 1] > cos[0, 2] + 0.1  # the paraphrase shares no word with "LLM agents"
    assert cos[3, 4] > 0.7 > cos[3, 2]
    # Asked again, alone or among others, a text gets the same digits (every path agrees).
    assert np.array_equal(encoder.encode(["protein folding with deep learning"])[0], vectors[2])


@pytest.fixture(scope="module")
def feed_docs():
    records = parse(data_file("arxiv_rss_new/aioarxiv_rss_20archives_2024-11-28_full1504items.xml").read_bytes()).records
    return [PaperDoc(id=10_000 + i, title=r.title, abstract=r.abstract, authors=tuple(r.authors),
                     categories=tuple(r.categories), order=i) for i, r in enumerate(records[:400])]


def test_every_path_agrees_with_the_dense_encoder(encoder, feed_docs):
    index = PaperIndex(feed_docs, stats=CorpusStats.fit(feed_docs).with_dense(encoder), external=[])
    many = [Interests.build(about="how people move around cities: mobility data, traffic, commuting"),
            Interests.build(topics=[("Reinforcement learning", "reinforcement learning, policy optimization")],
                            about="RL for language models, not robots"),
            Interests.build(keywords="quantum error correction, surface code, decoders"),
            Interests.build(liked=[10_003], about="galaxies")]
    result = match_many(many, index)
    for interests in many:
        assert result[interests].pairs() == rank(interests, index).pairs() == reference_match(interests, index)
    # The about-me with no shared words still finds its papers, by meaning.
    top = [index.papers[p] for p in rank(many[0], index).positions[:3].tolist()]
    assert top, "the mobility about-me found nothing"


def test_with_the_encoder_an_index_takes_its_numbers_unless_set_otherwise(encoder, feed_docs):
    stats = CorpusStats.fit(feed_docs)
    lsa = PaperIndex(feed_docs, stats=stats)
    assert lsa.weights == Weights()
    with_encoder = PaperIndex(feed_docs, stats=stats.with_dense(encoder))
    assert {k: getattr(with_encoder.weights, k) for k in Weights.ENCODER} == Weights.ENCODER
    assert with_encoder.weights.floor_balanced == Weights().floor_balanced  # the rest as they are
    # An operator's own value (MATCH_WEIGHTS) wins over the encoder's.
    chosen = PaperIndex(feed_docs, Weights(order_closeness=0.3), stats=stats.with_dense(encoder)).weights
    assert chosen.order_closeness == 0.3 and chosen.keyword_sense_low == Weights.ENCODER["keyword_sense_low"]
    # A keyword whose sense the other keywords do not share now keeps less of its value:
    # "manifold" in a mathematics paper, next to "equivariant, geometric deep learning".
    gate = sense_gate(np.array([1500]), np.array([1000]), 1, with_encoder.weights)[0]
    assert gate < sense_gate(np.array([1500]), np.array([1000]), 1, lsa.weights)[0]


# Reached by benchmarks/relevance.py --readers X (Paperpost + MiniLM), less a small margin:
# (F1, P@5, nDCG@10). The encoder's own numbers (Weights.ENCODER) were chosen on the sixteen
# tuning sets; none of these three was tuned on. The nineteenth was judged after they were
# chosen and scored once; the seventeenth and eighteenth were scored before (the plain
# swap's figures in brackets) and once after.
RECORDED_DAY = {
    "seventeenth": (0.47, 0.89, 0.73),  # 0.492 / 0.917 / 0.759 (plain swap 0.488 / 0.839; LSA 0.452 / 0.726)
    "eighteenth": (0.38, 0.85, 0.51),  # 0.408 / 0.873 / 0.531 (plain swap 0.437 / 0.856; LSA 0.422 / 0.797)
    "nineteenth": (0.39, 0.91, 0.62),  # 0.413 / 0.939 / 0.647 (plain swap 0.396 / 0.939; LSA 0.379 / 0.867)
}
RECORDED_MEAN = {
    "seventeenth": (0.46, 0.82, 0.44),  # 0.486 / 0.841 / 0.464 (plain swap 0.486 / 0.802; LSA 0.448 / 0.632)
    "eighteenth": (0.39, 0.86, 0.35),  # 0.420 / 0.881 / 0.379 (plain swap 0.419 / 0.802; LSA 0.407 / 0.681)
    "nineteenth": (0.40, 0.73, 0.44),  # 0.422 / 0.751 / 0.469 (plain swap 0.396 / 0.728; LSA 0.376 / 0.672)
}


@pytest.fixture(scope="module")
def scored(encoder):
    data_file("daily-papers-page.txt")
    out = {}
    for readers in RECORDED_DAY:
        devset = relevance.load_devset(readers)
        stats = relevance.dense_stats(relevance.matching_stats(devset), MODEL)
        for split in [*relevance.READERS[readers][2], relevance.DAY]:
            out[readers, split] = (relevance.evaluate(relevance.product(devset, split, stats=stats), devset, split),
                                   relevance.evaluate(relevance.substring_baseline(devset, split), devset, split))
    return out


@pytest.mark.parametrize("readers", sorted(RECORDED_DAY))
def test_the_encoder_reaches_its_recorded_figures_on_readers_never_tuned_on(scored, readers):
    ours, substring = scored[readers, relevance.DAY]
    reached = (ours.micro[2], ours.p_at_5, ours.ndcg_at_10)
    assert all(r >= floor for r, floor in zip(reached, RECORDED_DAY[readers])), reached
    # The targets on a whole day: +0.10 F1 over the substring filter, P@5 0.85.
    assert ours.micro[2] >= substring.micro[2] + 0.10
    assert ours.p_at_5 >= 0.85
    days = [scored[readers, split][0] for split in relevance.READERS[readers][2]]
    mean = [sum(f(d) for d in days) / len(days) for f in (lambda d: d.micro[2], lambda d: d.p_at_5,
                                                          lambda d: d.ndcg_at_10)]
    assert all(m >= floor for m, floor in zip(mean, RECORDED_MEAN[readers])), mean


def test_the_setting_hands_the_encoder_to_every_process(db, settings, encoder):
    from digest import corpus

    settings.MATCH_EMBEDDING_MODEL = str(MODEL)
    corpus._current.update(id=None, stats=None, checked=0.0)
    try:
        assert corpus.current_stats().dense is encoder
        settings.MATCH_EMBEDDING_MODEL = str(MODEL.parent / "no-such-model")
        corpus._current.update(id=None, stats=None, checked=0.0)
        with pytest.raises(ModelError, match="is missing"):
            corpus.current_stats()
    finally:
        corpus._current.update(id=None, stats=None, checked=0.0)


def test_ingest_keeps_each_papers_vector_once_for_every_process(db, settings, encoder):
    from django.core.management import call_command

    from digest.corpus import dense_encoder
    from digest.models import Paper, TextVector
    from digest.vectors import DatabaseStore

    settings.MATCH_EMBEDDING_MODEL = str(MODEL)
    feed = data_file("arxiv_rss_new/layareader_rss_cs.LG+cs.AI+cs.CL+stat.ML_2026-09-24_trimmed4items.xml")
    call_command("ingest", str(feed))
    papers = list(Paper.objects.all())
    assert papers and TextVector.objects.count() == len(papers)
    # Another process (a fresh encoder over the same weights) reads them instead of computing.
    fresh = TextEncoder(MODEL)
    fresh.store = DatabaseStore(encoder.name)
    fresh._forward_texts = lambda texts: pytest.fail(f"computed {len(texts)} texts again")
    from digest.matching.dense import paper_text

    kept = fresh.encode([paper_text(p) for p in papers])
    assert np.array_equal(kept, dense_encoder().encode([paper_text(p) for p in papers]))
    # The command for papers stored before the encoder was switched on: nothing left to do.
    from io import StringIO

    out = StringIO()
    call_command("embed_papers", "--days", "3650", stdout=out)
    assert f"{len(papers)} papers of the last 3650 days: 0 embedded, {len(papers)} already kept" in out.getvalue()
    settings.MATCH_EMBEDDING_MODEL = ""
    with pytest.raises(Exception, match="MATCH_EMBEDDING_MODEL is not set"):
        call_command("embed_papers")


def test_the_batch_thread_closes_the_connection_it_opened_for_vectors(db, encoder):
    # match_many computes typed texts on a thread of its own, one per call: a connection it
    # opened to read or keep vectors must not outlive it.
    import threading

    from django.db import connections

    from digest.vectors import DatabaseStore

    store, left_open = DatabaseStore(encoder.name), []

    def batch_thread():
        store.get([encoder.key("galaxies")])
        store.put({encoder.key("galaxies"): encoder.encode(["galaxies"])[0]})
        left_open.append(connections["default"].connection is not None)

    thread = threading.Thread(target=batch_thread)
    thread.start()
    thread.join()
    assert left_open == [False]
