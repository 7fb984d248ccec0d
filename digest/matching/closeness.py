"""The semantic side of PaperIndex: papers and texts in the semantic layer (or TF-IDF when
the corpus is too small for one), cosines, closeness as standard scores, similarities of
liked papers, and the "about me" and learned-model vectors computed for many at once.

Every product here is computed one query at a time, or for all pairs at once, never for
"the queries of this batch": a matrix product of many queries may round differently from
a product of one, and every path (one subscriber, a batch, the reference loop) must agree
to the last digit."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np
from scipy import sparse

from ..text import analyse
from .dense import paper_text
from .interests import COMPONENTS, UNIT, is_gated_topic
from .semantic import MIN_DOCS, l2_rows, tfidf_features


# What a person says they do *not* want, in a sentence about what they want ("geometry and
# animation I could ship, not NeRF/3DGS"; "less about benchmarks"): the words after a
# negation, to the end of the clause, would otherwise draw exactly those papers near.
# Not "not only" or "whether or not", not "no-regret" or "non-", and not "without" ("training
# without backpropagation" is the wish itself).
_NEGATED = re.compile(
    r"\b(?:(?<!\bor\s)not(?!\s+(?:only|just|merely)\b)|no|nor|never|except|excluding|rather\s+than|"
    r"instead\s+of|other\s+than|less\s+(?:about|on|into|interested\s+in))\b(?![-\w])[^.;:!?()]*", re.IGNORECASE)


def wanted_part(text: str) -> str:
    """A typed text without what it says is not wanted (each negation to the end of its
    clause: a full stop, semicolon, colon or bracket)."""
    return _NEGATED.sub(" ", text)


def text_words(text: str) -> tuple[str, ...]:
    """The analysed words of a typed text ("about me", a keyword, a topic's name) for its
    closeness: what it says is wanted."""
    return tuple(analyse(wanted_part(text))[0])


def query_text(text: str) -> str:
    """What a typed text gives the dense encoder: what it says is wanted, as written (the
    encoder lowercases), spaces collapsed."""
    return " ".join(wanted_part(text).split()).casefold()


class Closeness:
    """Mixed into PaperIndex; uses its papers, fields, position, stats and weights."""

    def _seq_of(self, doc) -> tuple[str, ...]:
        if doc.id in self.position:
            title_seq, _, abs_seq, _ = self.fields[self.position[doc.id]]
            return title_seq + abs_seq
        return tuple(analyse(doc.title)[0]) + tuple(analyse(doc.abstract or "")[0])

    def features(self) -> tuple[sparse.csr_matrix, dict[str, int]]:
        """Unit TF-IDF rows of the papers (the learned models' features)."""
        if self._features is None:
            self._features = tfidf_features([t + a for t, _, a, _ in self.fields], self.stats)
        return self._features

    def damped_features(self) -> sparse.csr_matrix:
        """The papers' TF-IDF rows with each weight's square root (closeness_of, texts)."""
        if self._damped is None:
            damped = self.features()[0].copy()
            damped.data = np.sqrt(damped.data)
            self._damped = damped
        return self._damped

    def embeddings(self):
        """Unit vectors of the papers: the dense encoder's when there is one, else in the
        semantic layer (or their TF-IDF rows when the corpus was too small for one)."""
        if self._embeddings is None:
            if self.stats.dense is not None:
                self._embeddings = self.stats.dense.encode([paper_text(p) for p in self.papers])
            elif self.stats.semantic is not None:
                self._embeddings = self.stats.semantic.project(self.features()[0])
            else:
                self._embeddings = self.features()[0]
        return self._embeddings

    def embed(self, seqs: Sequence[Sequence[str]], texts: Sequence[str] | None = None):
        """Query vectors of texts, from their analysed words (`seqs`) or, with a dense
        encoder, from the texts themselves."""
        if self.stats.dense is not None:
            if texts is None:
                raise ValueError("a dense encoder embeds texts, not analysed words")
            return self.stats.dense.encode(texts)
        if self.stats.semantic is not None:
            return self.stats.semantic.embed(seqs)
        matrix, vocab = self.features()
        rows, cols, vals = [], [], []
        for r, seq in enumerate(seqs):
            for s in set(seq):
                if s in vocab:
                    rows.append(r)
                    cols.append(vocab[s])
                    vals.append(self.stats.idf(s))
        return l2_rows(sparse.csr_matrix((vals, (rows, cols)), shape=(len(seqs), matrix.shape[1])))

    def cosines(self, queries) -> np.ndarray:
        """papers x queries cosines, rounded to 4 places. One query at a time: a matrix
        product of many queries may round differently from a product of one, and every
        path (one subscriber, a batch, the reference) must agree to the last digit."""
        embeddings = self.embeddings()
        if sparse.issparse(embeddings):  # no semantic layer: TF-IDF rows, a sparse product is exact
            return np.round((embeddings @ sparse.csr_matrix(queries).T).toarray().astype(np.float64), 4)
        rows = np.empty((queries.shape[0], self.size), dtype=embeddings.dtype)
        for k in range(queries.shape[0]):
            np.dot(embeddings, queries[k], out=rows[k])
        return np.round(rows.astype(np.float64), 4).T

    def closeness_of(self, seqs: Sequence[Sequence[str]] | None, latent: np.ndarray | None = None,
                     lexical_queries=None, text: bool = False, texts: Sequence[str] | None = None) -> np.ndarray:
        """papers x texts closeness: the mean of the standard scores of the latent cosine
        (shared meaning) and of the plain TF-IDF cosine (the rare words themselves). For a
        short text (`text`: an about-me), the papers' side of the TF-IDF cosine is damped
        (square roots of its weights), so that a paper saying one of the text's words many
        times ("flow" in an optical-flow paper, for "flow matching") is not taken for one
        saying several of them, and the two scores' difference counts against the paper
        (Weights.closeness_disagreement): close by one of them only is not close."""
        if latent is None:
            latent = self.cosines(self.embed(seqs, texts))
        if self.stats.semantic is None:
            return self.standardised(latent)
        features = self.damped_features() if text else self.features()[0]
        if lexical_queries is None:
            lexical_queries = self.stats.semantic.tfidf(seqs)
        # A sparse product sums each entry in the order of the paper's own terms, whatever
        # the other queries: the same digits for one query or a thousand.
        lexical = np.round((features @ lexical_queries.T).toarray(), 4)
        latent_z, lexical_z = self.standardised(latent), self.standardised(lexical)
        mean = 0.5 * latent_z + 0.5 * lexical_z
        if text:
            # Near by meaning *and* by words (Weights.closeness_disagreement).
            mean -= self.weights.closeness_disagreement * np.abs(latent_z - lexical_z)
        return np.round(mean, 3)

    def standardised(self, cosines: np.ndarray) -> np.ndarray:
        """Each column as standard scores over this index's papers: how much closer than
        the typical paper of the edition. Raw cosines of a short text differ from one text
        to another (a narrow field's papers all sit far from a broad sentence); standard
        scores put every "about me" and every liked paper on one scale. An index too small
        for a spread assumes a typical mean of 0.1 and spread of 0.1."""
        if self.size < MIN_DOCS:
            return np.round((cosines - 0.1) / 0.1, 3)
        # Each query as a contiguous row, reduced along it: the same digits for one query
        # or many (for the same reason as cosines()).
        return self.standardised_rows(np.ascontiguousarray(cosines.T)).T

    def standardised_rows(self, rows: np.ndarray) -> np.ndarray:
        """standardised() of queries x papers rows (contiguous), as rows."""
        if self.size < MIN_DOCS:
            return np.round((rows - 0.1) / 0.1, 3)
        mean = rows.mean(axis=1, keepdims=True)
        spread = rows.std(axis=1, keepdims=True)
        spread[spread == 0] = 1.0
        return np.round((rows - mean) / spread, 3)

    def similarities(self, paper_id: int) -> np.ndarray:
        """Cosine of every paper with `paper_id` (in the index or external); memoised."""
        found = self._similar.get(paper_id)
        if found is None:
            self.prepare_similar([paper_id])
            found = self._similar[paper_id]
        return found

    def prepare_similar(self, paper_ids: Iterable[int]) -> None:
        """Compute (and memoise) the similarities of many papers: the index's own papers are
        already embedded, papers from outside are analysed first."""
        todo = [p for p in dict.fromkeys(paper_ids) if p not in self._similar]
        if not todo:
            return
        inside = [p for p in todo if p in self.position]
        outside = [p for p in todo if p not in self.position and p in self._external]
        if inside:
            positions = [self.position[p] for p in inside]
            full = self._all_pairs()
            if full is not None:
                # The pairs are kept as rows (paper x every paper): a liked paper's cosines
                # are one contiguous row, standardised where it lies, with no transposed copy.
                latent = full[0][positions]
                scores = self.standardised_rows(latent)
                if full[1] is not None:
                    scores = np.round(0.5 * scores + 0.5 * self.standardised_rows(full[1][positions]), 3)
                self._keep_similar(inside, latent, scores)
            else:
                latent = self.cosines(self.embeddings()[positions])
                lexical_rows = self.features()[0][positions] if self.stats.semantic is not None else None
                self._keep_similar(inside, latent.T, self.closeness_of(None, latent, lexical_rows).T)
        if outside:
            seqs = [self._seq_of(self._external[p]) for p in outside]
            latent = self.cosines(self.embed(seqs, [paper_text(self._external[p]) for p in outside]))
            lexical = self.stats.semantic.tfidf(seqs) if self.stats.semantic is not None else None
            self._keep_similar(outside, latent.T, self.closeness_of(None, latent, lexical).T)
        for paper_id in todo:
            self._similar.setdefault(paper_id, np.zeros(self.size))
            self._similar_z.setdefault(paper_id, np.zeros(self.size))

    ALL_PAIRS_UP_TO = 4096

    def _all_pairs(self):
        """(latent, lexical) cosines of every pair of the index's papers, from one matrix
        product each, when the index is small enough (a day's papers; 18 MB at 1,500), as
        rows: row i holds paper i's column of the product (its cosine with every paper).
        Whoever asks first, one subscriber or a batch, the digits are the same."""
        if self.size > self.ALL_PAIRS_UP_TO:
            return None
        if self._pairs is None:
            embeddings = self.embeddings()
            product = embeddings @ embeddings.T
            latent = np.round((product.toarray() if sparse.issparse(product) else product).astype(np.float64), 4)
            lexical = None
            if self.stats.semantic is not None:
                features = self.features()[0]
                lexical = np.ascontiguousarray(np.round((features @ features.T).toarray(), 4).T)
            self._pairs = (np.ascontiguousarray(latent.T), lexical)
        return self._pairs

    def _keep_similar(self, paper_ids: list[int], latent: np.ndarray, scores: np.ndarray) -> None:
        """latent and scores: one row per paper id (its values over the index's papers)."""
        for k, paper_id in enumerate(paper_ids):
            column, z = latent[k].copy(), scores[k].copy()
            if paper_id in self.position:
                column[self.position[paper_id]] = z[self.position[paper_id]] = 0.0  # not its own neighbour
            self._similar[paper_id], self._similar_z[paper_id] = column, z

    def closeness(self, paper_id: int) -> np.ndarray:
        """Standard scores of every paper's cosine with `paper_id` (see standardised)."""
        self.similarities(paper_id)
        return self._similar_z[paper_id]

    def similar(self, paper_id: int) -> dict[int, float]:
        """Positions of papers at least SIMILARITY_MIN alike `paper_id`, the paper itself
        excluded."""
        column = self.similarities(paper_id)
        keep = np.flatnonzero(column >= self.weights.similarity_min)
        return {int(j): float(column[j]) for j in keep}

    def about_cosines(self, about: str) -> np.ndarray:
        return self.cosines(self.embed([text_words(about)], [query_text(about)]))[:, 0]

    def _doc(self, paper_id: int):
        if paper_id in self.position:
            return self.papers[self.position[paper_id]]
        return self._external[paper_id]

    def add_external(self, docs: Iterable) -> None:
        """Papers outside this index that subscribers liked or disliked (earlier days)."""
        for doc in docs:
            if doc.id not in self.position:
                self._external[doc.id] = doc

    def title_of(self, paper_id: int) -> str:
        if paper_id in self.position:
            return self.papers[self.position[paper_id]].title
        doc = self._external.get(paper_id)
        return doc.title if doc else f"paper {paper_id}"

    ABOUT_CACHE = 64

    def about_closeness(self, text: str) -> np.ndarray:
        """One about-me text's closeness to each paper, kept for the last few texts: a
        subscriber's topics are gated by the same figures (their components come one after
        another), and keeping every text would hold a row per subscriber."""
        found = self._about_closeness.get(text)
        if found is None:
            found = self.closeness_of([text_words(text)], text=True, texts=[query_text(text)])[:, 0]
            if len(self._about_closeness) >= self.ABOUT_CACHE:
                self._about_closeness.pop(next(iter(self._about_closeness)))
            self._about_closeness[text] = found
        return found

    def about_values(self, texts: Sequence[tuple[str, bool]]) -> np.ndarray:
        """papers x texts: each "about me" text's closeness to each paper, ramped and
        weighted (ABOUT_ALONE when the text is all its subscriber gave). `texts` holds
        (text, alone) pairs."""
        closeness = self.closeness_of([text_words(t) for t, _ in texts], text=True,
                                      texts=[query_text(t) for t, _ in texts])
        return np.column_stack([self.about_column(closeness[:, k], alone) for k, (_, alone) in enumerate(texts)])

    def about_column(self, closeness: np.ndarray, alone: bool) -> np.ndarray:
        w = self.weights
        return np.round((w.about_alone if alone else w.about) * ramp(closeness, w.about_low, w.about_high), 4)

    def learned_values(self, models: Sequence) -> np.ndarray:
        """papers x models: LEARNED x ramp(z, LEARNED_LOW, LEARNED_HIGH), z the standard score
        of the model's margin over this index's papers. A model trained on a dozen labels
        against hundreds of background papers puts almost every new paper below p = 0.5 (on
        the devset's holdout, every one: the model added nothing), so its probability says
        little; how far above the edition's typical paper the model places a paper does, on
        the same scale as the "about me" and liked papers."""
        w = self.weights
        features, vocab = self.features()
        rows, cols, vals = [], [], []
        for k, model in enumerate(models):
            for term, weight in model.terms:
                if term in vocab:
                    rows.append(vocab[term])
                    cols.append(k)
                    vals.append(weight)
        weights = sparse.csr_matrix((vals, (rows, cols)), shape=(len(vocab), len(models)))
        margins = np.round((features @ weights).toarray(), 4)  # the bias shifts every paper alike
        return np.round(w.learned * ramp(self.standardised(margins), w.learned_low, w.learned_high), 4)

    DENSE_CHUNK = 1000

    @property
    def orders_by_closeness(self) -> bool:
        """Whether typed texts order the selected papers: not with ORDER_CLOSENESS 0, nor in
        an index too small for standard scores (a handful of papers: fixed-scale scores
        would outweigh the evidence)."""
        return bool(self.weights.order_closeness) and self.size >= MIN_DOCS

    @property
    def orders_by_category(self) -> bool:
        """Whether followed categories order the selected papers (ORDER_CATEGORY; not in an
        index of a handful of papers either: both parts of the order were fitted on whole
        editions)."""
        return bool(self.weights.order_category) and self.size >= MIN_DOCS

    @property
    def senses_keywords(self) -> bool:
        """Whether keywords are checked against their subscriber's others (KEYWORD_SENSE_KEEP
        under 1; not in an index too small for standard scores, as the order)."""
        return self.weights.keyword_sense_keep < 1.0 and self.size >= MIN_DOCS

    def text_milli(self, component: int) -> np.ndarray:
        """A typed text's closeness to each paper in thousandths (dense, int64: the closeness
        is rounded to 3 places, so these are exact and sum exactly)."""
        found = self._text_milli.get(component)
        if found is None:
            self.prepare_dense([component])
            found = self._text_milli[component]
        return found

    def knows_text(self, component: int) -> bool:
        """Whether a typed text has any closeness in this corpus (a word seen in fewer than two
        stored papers has none: zero everywhere); kept with its text_milli()."""
        self.text_milli(component)
        return self._text_known[component]

    def sense_gate_at(self, own: int, texts: Sequence[int], positions) -> np.ndarray:
        """sense_gate() of a checked keyword (its text `own`, among its subscriber's keyword
        `texts`) at the papers at `positions` only: ranking needs it where the keyword
        matches, an explanation at one paper."""
        total = sum(self.text_milli(t)[positions] for t in texts)
        others = sum(map(self.knows_text, texts)) - self.knows_text(own)
        return sense_gate(total, self.text_milli(own)[positions], others, self.weights)

    def sensed_vector(self, term: int, own: int, texts: Sequence[int]):
        """A checked keyword's (positions, values): its term's values times sense_gate() of
        the paper's closeness to the subscriber's other keywords (`texts`: all of their
        keywords' texts, `own` among them)."""
        positions, values = self.vector(term)
        gate = self.sense_gate_at(own, texts, positions)
        return positions, np.rint(values * gate).astype(np.int64)

    def text_values(self, component: int) -> np.ndarray:
        """A typed text's ("text", ...) values over the papers, in UNITs (dense, int64):
        ORDER_CLOSENESS x the text's closeness to each paper."""
        found = self._text_values.get(component)
        if found is None:
            self.prepare_dense([component])
            found = self._text_values[component]
        return found

    def prepare_likes(self, components: Iterable[int]) -> None:
        """Compute many liked papers' component vectors at once: the same values, paper by
        paper, as component_values(), from one array operation per chunk instead of a few
        per liked paper."""
        w = self.weights
        todo = [c for c in dict.fromkeys(components) if c not in self._vectors and COMPONENTS[c][0] == "like"]
        self.prepare_similar(COMPONENTS[c][1] for c in todo)
        for start in range(0, len(todo), self.DENSE_CHUNK):
            chunk = todo[start:start + self.DENSE_CHUNK]
            closeness = np.stack([self._similar_z[COMPONENTS[c][1]] for c in chunk])
            weights = np.array([w.like_alone if COMPONENTS[c][2] else w.like for c in chunk])
            values = np.round(weights[:, None] * ramp(closeness, w.like_low, w.like_high), 4)
            quantised = np.rint(values * UNIT).astype(np.int64)
            rows, positions = np.nonzero(quantised)
            kept = quantised[rows, positions]
            bounds = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=len(chunk)))]).tolist()
            positions = positions.astype(np.int32)
            for k, c in enumerate(chunk):
                self._vectors[c] = (positions[bounds[k]:bounds[k + 1]], kept[bounds[k]:bounds[k + 1]])

    def prepare_dense(self, components: Iterable[int]) -> None:
        """Compute many "about me", gated-topic, typed-text and learned-model vectors with a
        few matrix products: the closeness of each chunk of texts once, for every component
        that needs it (an about-me, the topics it gates, and the same words typed as a text
        for the order are one text: its closeness depends on its analysed words only)."""
        todo = [c for c in dict.fromkeys(components)
                if c not in (self._text_milli if COMPONENTS[c][0] == "text" else self._vectors)]
        # One closeness per text: its analysed words, and what the dense encoder reads.
        dense = self.stats.dense is not None
        users: dict[tuple, list[int]] = {}
        for c in todo:
            key = COMPONENTS[c]
            text = key[1] if key[0] in ("about", "text") else key[2] if is_gated_topic(key) else None
            if text is not None:
                users.setdefault((text_words(text), query_text(text) if dense else ""), []).append(c)
        seqs = list(users)
        for start in range(0, len(seqs), self.DENSE_CHUNK):
            chunk = seqs[start:start + self.DENSE_CHUNK]
            closeness = self.closeness_of([seq for seq, _ in chunk], text=True, texts=[q for _, q in chunk])
            for k, seq in enumerate(chunk):
                for c in users[seq]:
                    key = COMPONENTS[c]
                    if key[0] == "about":
                        self._vectors[c] = self._sparse(self.about_column(closeness[:, k], key[2]))
                    elif key[0] == "text":
                        self._text_values[c] = order_units(closeness[:, k], self.weights.order_closeness)
                        milli = self._text_milli[c] = np.rint(closeness[:, k] * 1000).astype(np.int64)
                        self._text_known[c] = bool(milli.any())
                    else:
                        self._vectors[c] = self._sparse(self.gated_topic(key, closeness[:, k]))
        learned = [c for c in todo if COMPONENTS[c][0] == "learned"]
        for start in range(0, len(learned), self.DENSE_CHUNK):
            chunk = learned[start:start + self.DENSE_CHUNK]
            values = self.learned_values([COMPONENTS[c][1] for c in chunk])
            for k, c in enumerate(chunk):
                self._vectors[c] = self._sparse(values[:, k])


def order_units(closeness: np.ndarray, weight: float) -> np.ndarray:
    """A typed text's closeness as its share of the order among selected papers, in UNITs."""
    return np.rint(np.round(weight * np.asarray(closeness, dtype=np.float64), 4) * UNIT).astype(np.int64)


def sense_gate(total, own, n_others, w) -> np.ndarray:
    """What a checked keyword keeps of its value at each paper: ramp(the paper's mean
    closeness to the subscriber's other keywords, KEYWORD_SENSE_LOW, KEYWORD_SENSE_HIGH),
    at least KEYWORD_SENSE_KEEP. `total`: the closeness of every keyword of the subscriber
    summed, `own`: the keyword's own (both in thousandths, exact integers), `n_others`: how
    many other keywords the corpus knows (a word it has never seen twice has no closeness:
    it neither vouches for a paper nor against it); with none, the keyword keeps its value.
    Elementwise in float64 from exact integers: every path (one subscriber, a batch, the
    reference) gets the same digits. kernel.rank_rows computes it again, compiled, for the
    batch: a change here must be made there too."""
    n = np.asarray(n_others, dtype=np.float64)
    others = (np.asarray(total, dtype=np.float64) - np.asarray(own, dtype=np.float64)) / (np.maximum(n, 1.0) * 1000.0)
    keep = w.keyword_sense_keep
    gate = np.round(keep + (1.0 - keep) * ramp(others, w.keyword_sense_low, w.keyword_sense_high), 4)
    return np.where(n > 0, gate, 1.0)


def ramp(cosines: np.ndarray, low: float, high: float) -> np.ndarray:
    """0 at or below `low`, rising linearly to 1 at `high`; rounded to 4 places."""
    return np.round(np.clip((cosines - low) / max(1e-9, high - low), 0.0, 1.0), 4)
