"""Relevance on the labelled development set (benchmarks/devset/): the real matcher, the
corpus statistics fitted on every stored paper of the shared data, against the labels of
eighteen sets of readers (benchmarks/devset/README.md), every pair judged by reading before the
matcher ran on it:
- the original 17 (profiles.json): the report half and the three holdouts, each scored once,
  then tuned on;
- ten new readers (profiles-new.json) on the three holdouts' papers, and twelve more each in
  profiles-third.json to -eleventh.json on all five parts: each scored once, then tuned on
  (the fifth to eleventh written by someone who never saw the matcher);
- twelve more in profiles-twelfth.json on all five parts, written and judged the same way
  before the keyword sense check: scored once with the engine before and after it, then
  studied (an about-me's negations);
- twelve more in profiles-thirteenth.json, written and judged the same way before the
  negations: scored once with the three engines of the session, then studied; nothing was
  changed after it;
- twelve more in profiles-fourteenth.json, written and judged the same way: scored once with
  the three engines of that session, then tuned on (the closeness disagreement);
- twelve more in profiles-fifteenth.json, written and judged before the closeness
  disagreement was fitted: scored once with the engine before and after it, then studied
  (nothing was changed after it);
- twelve more in profiles-sixteenth.json, written and judged after the last change: scored
  once with the engine before and after it, then studied (a change was fitted on it and the
  fifteen sets before, and left out);
- twelve more in profiles-seventeenth.json, judged while that change was being fitted and
  scored once with the engine of the session's start, with the closeness disagreement, and
  with the change left out; never tuned on;
- twelve more in profiles-eighteenth.json, judged before the dense encoder was measured and
  scored once with and without it; never tuned on;
- twelve more in profiles-nineteenth.json, judged after the encoder's numbers
  (Weights.ENCODER) were chosen on the sixteen sets above and before any matcher run for
  them: scored once with each engine; never tuned on.
The dense encoder's figures on the last three: tests/test_dense_encoder.py.
Each set is scored part by part (a fifth of a day each) and as one whole day.
Figures: benchmarks/README.md; a drop below them fails."""

import pytest

from benchmarks import relevance
from tests.conftest import data_file

# Reached by benchmarks/relevance.py, less a small margin: (F1, P@5, nDCG@10) per reader set
# and part, each part one day's edition.
RECORDED = {
    "original": {
        "report": (0.68, 0.83, 0.78),  # 0.707 / 0.851 / 0.806
        "holdout": (0.62, 0.81, 0.65),  # 0.648 / 0.830 / 0.680
        "holdout2": (0.61, 0.73, 0.72),  # 0.637 / 0.759 / 0.748
        "holdout3": (0.62, 0.79, 0.70),  # 0.647 / 0.819 / 0.729
    },
    "new": {
        "holdout": (0.52, 0.83, 0.51),  # 0.540 / 0.852 / 0.538
        "holdout2": (0.50, 0.88, 0.52),  # 0.526 / 0.900 / 0.542
        "holdout3": (0.55, 0.95, 0.57),  # 0.576 / 0.978 / 0.593
    },
    "third": {
        "tune": (0.60, 0.76, 0.68),  # 0.622 / 0.783 / 0.709
        "report": (0.56, 0.85, 0.63),  # 0.589 / 0.875 / 0.657
        "holdout": (0.73, 0.76, 0.64),  # 0.759 / 0.786 / 0.666
        "holdout2": (0.71, 0.87, 0.66),  # 0.733 / 0.891 / 0.685
        "holdout3": (0.73, 0.73, 0.75),  # 0.754 / 0.760 / 0.778
    },
    "fourth": {
        "tune": (0.44, 0.83, 0.48),  # 0.460 / 0.852 / 0.510
        "report": (0.44, 0.82, 0.46),  # 0.465 / 0.843 / 0.484
        "holdout": (0.53, 0.72, 0.50),  # 0.558 / 0.745 / 0.526
        "holdout2": (0.58, 0.66, 0.50),  # 0.609 / 0.683 / 0.524
        "holdout3": (0.59, 0.85, 0.55),  # 0.612 / 0.873 / 0.576
    },
    "fifth": {
        "tune": (0.43, 0.66, 0.34),  # 0.452 / 0.688 / 0.360
        "report": (0.57, 0.95, 0.56),  # 0.596 / 0.975 / 0.581
        "holdout": (0.58, 0.80, 0.49),  # 0.610 / 0.820 / 0.516
        "holdout2": (0.53, 0.73, 0.49),  # 0.558 / 0.752 / 0.513
        "holdout3": (0.54, 0.81, 0.50),  # 0.562 / 0.833 / 0.523
    },
    "sixth": {
        "tune": (0.56, 0.84, 0.59),  # 0.583 / 0.861 / 0.617
        "report": (0.40, 0.69, 0.40),  # 0.423 / 0.710 / 0.427
        "holdout": (0.39, 0.59, 0.41),  # 0.414 / 0.610 / 0.436
        "holdout2": (0.51, 0.66, 0.51),  # 0.530 / 0.682 / 0.537
        "holdout3": (0.56, 0.68, 0.42),  # 0.584 / 0.705 / 0.441
    },
    "seventh": {
        "tune": (0.33, 0.41, 0.24),  # 0.358 / 0.430 / 0.262
        "report": (0.56, 0.84, 0.49),  # 0.583 / 0.861 / 0.510
        "holdout": (0.42, 0.49, 0.31),  # 0.441 / 0.511 / 0.334
        "holdout2": (0.43, 0.49, 0.29),  # 0.457 / 0.512 / 0.313
        "holdout3": (0.40, 0.44, 0.26),  # 0.427 / 0.467 / 0.287
    },
    "eighth": {
        "tune": (0.56, 0.75, 0.53),  # 0.583 / 0.778 / 0.556
        "report": (0.51, 0.52, 0.22),  # 0.533 / 0.542 / 0.243
        "holdout": (0.56, 0.64, 0.36),  # 0.583 / 0.662 / 0.383
        "holdout2": (0.46, 0.63, 0.43),  # 0.480 / 0.657 / 0.454
        "holdout3": (0.40, 0.53, 0.23),  # 0.423 / 0.560 / 0.256
    },
    "ninth": {
        "tune": (0.32, 0.45, 0.28),  # 0.349 / 0.472 / 0.302
        "report": (0.45, 0.73, 0.36),  # 0.476 / 0.757 / 0.390
        "holdout": (0.48, 0.70, 0.48),  # 0.505 / 0.720 / 0.501
        "holdout2": (0.44, 0.54, 0.51),  # 0.463 / 0.563 / 0.535
        "holdout3": (0.51, 0.55, 0.31),  # 0.533 / 0.575 / 0.339
    },
    "tenth": {
        "tune": (0.60, 0.76, 0.42),  # 0.625 / 0.783 / 0.450
        "report": (0.43, 0.61, 0.33),  # 0.453 / 0.633 / 0.353
        "holdout": (0.47, 0.56, 0.38),  # 0.494 / 0.583 / 0.404
        "holdout2": (0.50, 0.78, 0.47),  # 0.526 / 0.802 / 0.494
        "holdout3": (0.57, 0.67, 0.41),  # 0.595 / 0.694 / 0.433
    },
    "eleventh": {
        "tune": (0.44, 0.54, 0.34),  # 0.462 / 0.567 / 0.367
        "report": (0.44, 0.62, 0.30),  # 0.468 / 0.642 / 0.326
        "holdout": (0.58, 0.83, 0.56),  # 0.602 / 0.853 / 0.587
        "holdout2": (0.43, 0.69, 0.39),  # 0.452 / 0.711 / 0.416
        "holdout3": (0.46, 0.78, 0.51),  # 0.480 / 0.809 / 0.535
    },
    "twelfth": {
        "tune": (0.43, 0.53, 0.44),  # 0.457 / 0.550 / 0.465
        "report": (0.43, 0.59, 0.40),  # 0.457 / 0.613 / 0.424
        "holdout": (0.27, 0.45, 0.31),  # 0.298 / 0.470 / 0.337
        "holdout2": (0.52, 0.71, 0.42),  # 0.542 / 0.738 / 0.440
        "holdout3": (0.38, 0.53, 0.27),  # 0.409 / 0.557 / 0.297
    },
    "thirteenth": {
        "tune": (0.26, 0.45, 0.25),  # 0.286 / 0.472 / 0.276
        "report": (0.46, 0.44, 0.42),  # 0.485 / 0.463 / 0.443
        "holdout": (0.31, 0.54, 0.31),  # 0.340 / 0.562 / 0.339
        "holdout2": (0.37, 0.69, 0.44),  # 0.393 / 0.711 / 0.468
        "holdout3": (0.36, 0.45, 0.34),  # 0.383 / 0.475 / 0.362
    },
    "fourteenth": {
        "tune": (0.44, 0.40, 0.21),  # 0.462 / 0.429 / 0.230
        "report": (0.46, 0.64, 0.31),  # 0.480 / 0.667 / 0.334
        "holdout": (0.49, 0.55, 0.31),  # 0.511 / 0.573 / 0.339
        "holdout2": (0.35, 0.58, 0.13),  # 0.375 / 0.600 / 0.159
        "holdout3": (0.57, 0.72, 0.42),  # 0.593 / 0.746 / 0.442
    },
    "fifteenth": {
        "tune": (0.50, 0.68, 0.40),  # 0.524 / 0.700 / 0.430
        "report": (0.54, 0.62, 0.29),  # 0.563 / 0.643 / 0.313
        "holdout": (0.48, 0.66, 0.35),  # 0.500 / 0.685 / 0.370
        "holdout2": (0.55, 0.51, 0.33),  # 0.571 / 0.533 / 0.354
        "holdout3": (0.45, 0.50, 0.35),  # 0.471 / 0.528 / 0.376
    },
    "sixteenth": {
        "tune": (0.51, 0.62, 0.50),  # 0.531 / 0.645 / 0.520
        "report": (0.48, 0.58, 0.47),  # 0.500 / 0.603 / 0.499
        "holdout": (0.55, 0.57, 0.32),  # 0.579 / 0.593 / 0.343
        "holdout2": (0.59, 0.71, 0.49),  # 0.612 / 0.733 / 0.511
        "holdout3": (0.61, 0.76, 0.57),  # 0.633 / 0.787 / 0.593
    },
    "seventeenth": {
        "tune": (0.44, 0.48, 0.45),  # 0.465 / 0.500 / 0.479
        "report": (0.46, 0.62, 0.41),  # 0.488 / 0.648 / 0.432
        "holdout": (0.33, 0.64, 0.27),  # 0.353 / 0.667 / 0.292
        "holdout2": (0.46, 0.61, 0.51),  # 0.485 / 0.636 / 0.532
        "holdout3": (0.42, 0.68, 0.50),  # 0.448 / 0.707 / 0.523
    },
    "eighteenth": {
        "tune": (0.32, 0.45, 0.25),  # 0.341 / 0.479 / 0.275
        "report": (0.36, 0.73, 0.40),  # 0.387 / 0.750 / 0.423
        "holdout": (0.41, 0.62, 0.41),  # 0.439 / 0.646 / 0.436
        "holdout2": (0.38, 0.75, 0.32),  # 0.400 / 0.778 / 0.343
        "holdout3": (0.44, 0.73, 0.43),  # 0.465 / 0.750 / 0.456
    },
    "nineteenth": {
        "tune": (0.42, 0.74, 0.55),  # 0.444 / 0.767 / 0.578
        "report": (0.40, 0.49, 0.43),  # 0.423 / 0.510 / 0.454
        "holdout": (0.35, 0.69, 0.39),  # 0.373 / 0.719 / 0.411
        "holdout2": (0.29, 0.68, 0.40),  # 0.311 / 0.708 / 0.421
        "holdout3": (0.30, 0.63, 0.49),  # 0.329 / 0.655 / 0.518
    },
}
# The mean over a reader set's parts.
RECORDED_MEAN = {
    "original": (0.63, 0.79, 0.72),  # 0.660 / 0.815 / 0.741 (these four parts)
    "new": (0.52, 0.88, 0.53),  # 0.547 / 0.910 / 0.558
    "third": (0.67, 0.79, 0.67),  # 0.691 / 0.819 / 0.699
    "fourth": (0.52, 0.77, 0.50),  # 0.541 / 0.799 / 0.524
    "fifth": (0.53, 0.79, 0.47),  # 0.556 / 0.814 / 0.499
    "sixth": (0.48, 0.69, 0.47),  # 0.507 / 0.713 / 0.491
    "seventh": (0.43, 0.53, 0.32),  # 0.453 / 0.556 / 0.341
    "eighth": (0.50, 0.61, 0.35),  # 0.521 / 0.640 / 0.379
    "ninth": (0.44, 0.59, 0.39),  # 0.465 / 0.618 / 0.413
    "tenth": (0.51, 0.67, 0.40),  # 0.538 / 0.699 / 0.427
    "eleventh": (0.47, 0.69, 0.42),  # 0.493 / 0.716 / 0.446
    "twelfth": (0.41, 0.56, 0.37),  # 0.433 / 0.585 / 0.392
    "thirteenth": (0.35, 0.51, 0.35),  # 0.377 / 0.537 / 0.378
    "fourteenth": (0.46, 0.58, 0.28),  # 0.484 / 0.603 / 0.301
    "fifteenth": (0.50, 0.59, 0.34),  # 0.526 / 0.618 / 0.369
    "sixteenth": (0.55, 0.65, 0.47),  # 0.571 / 0.672 / 0.493
    "seventeenth": (0.42, 0.61, 0.43),  # 0.448 / 0.632 / 0.452, never tuned on
    "eighteenth": (0.38, 0.66, 0.36),  # 0.407 / 0.681 / 0.387, never tuned on
    "nineteenth": (0.35, 0.65, 0.45),  # 0.376 / 0.672 / 0.476, never tuned on
}
# Every labelled paper of a set as one edition, the size of a real day (relevance.DAY).
RECORDED_DAY = {
    "original": (0.63, 0.92, 0.85),  # 0.659 / 0.941 / 0.878
    "new": (0.53, 0.93, 0.71),  # 0.553 / 0.950 / 0.739
    "third": (0.68, 0.94, 0.81),  # 0.708 / 0.967 / 0.835
    "fourth": (0.53, 0.88, 0.75),  # 0.552 / 0.900 / 0.770
    "fifth": (0.52, 0.86, 0.66),  # 0.546 / 0.883 / 0.684
    "sixth": (0.48, 0.91, 0.64),  # 0.507 / 0.933 / 0.662
    "seventh": (0.43, 0.63, 0.44),  # 0.456 / 0.658 / 0.470
    "eighth": (0.51, 0.88, 0.59),  # 0.537 / 0.900 / 0.612
    "ninth": (0.45, 0.74, 0.55),  # 0.474 / 0.764 / 0.577
    "tenth": (0.50, 0.78, 0.50),  # 0.528 / 0.805 / 0.524
    "eleventh": (0.47, 0.80, 0.58),  # 0.498 / 0.828 / 0.601
    "twelfth": (0.39, 0.75, 0.59),  # 0.415 / 0.771 / 0.618
    "thirteenth": (0.35, 0.73, 0.56),  # 0.375 / 0.756 / 0.583
    "fourteenth": (0.48, 0.75, 0.47),  # 0.500 / 0.774 / 0.496
    "fifteenth": (0.50, 0.81, 0.62),  # 0.526 / 0.833 / 0.640
    "sixteenth": (0.55, 0.84, 0.78),  # 0.571 / 0.867 / 0.803
    "seventeenth": (0.43, 0.70, 0.70),  # 0.452 / 0.726 / 0.729, never tuned on
    "eighteenth": (0.40, 0.77, 0.55),  # 0.422 / 0.797 / 0.575, never tuned on
    "nineteenth": (0.35, 0.84, 0.60),  # 0.379 / 0.867 / 0.630, never tuned on
}
CASES = [(readers, split) for readers, parts in RECORDED.items() for split in parts]


@pytest.fixture(scope="module")
def scored():
    data_file("daily-papers-page.txt")
    out = {}
    for readers, parts in RECORDED.items():
        devset = relevance.load_devset(readers)
        stats = relevance.matching_stats(devset)
        for split in [*parts, relevance.DAY]:
            out[readers, split] = {
                "product": relevance.evaluate(relevance.product(devset, split, stats=stats), devset, split),
                "substring": relevance.evaluate(relevance.substring_baseline(devset, split), devset, split),
            }
    return out


def figures(scores) -> tuple[float, float, float]:
    return scores.micro[2], scores.p_at_5, scores.ndcg_at_10


@pytest.mark.parametrize("readers,split", CASES)
def test_the_matcher_reaches_its_recorded_figures(scored, readers, split):
    reached = figures(scored[readers, split]["product"])
    assert all(r >= floor for r, floor in zip(reached, RECORDED[readers][split])), reached


@pytest.mark.parametrize("readers", sorted(RECORDED))
def test_the_mean_over_the_days_reaches_its_recorded_figures(scored, readers):
    days = [figures(scored[readers, split]["product"]) for split in RECORDED[readers]]
    mean = [sum(day[i] for day in days) / len(days) for i in range(3)]
    assert all(m >= floor for m, floor in zip(mean, RECORDED_MEAN[readers])), mean


@pytest.mark.parametrize("readers", sorted(RECORDED_DAY))
def test_a_whole_day_reaches_its_recorded_figures(scored, readers):
    reached = figures(scored[readers, relevance.DAY]["product"])
    assert all(r >= floor for r, floor in zip(reached, RECORDED_DAY[readers])), reached


# Where the margin is smaller than the (recorded, not the target): the ninth set's
# readers' typed words are the papers' own words (math-ph by category, "black holes,
# quasinormal modes"), where a substring filter does well: +0.078 on average over the parts,
# +0.021 on its last part, +0.071 over the day. The fourth set's report part: +0.049 since a
# topic beside an about-me or several keywords is capped under the floor (+0.096 before):
# four of its readers ticked a topic that is their wish itself (efficient training with
# "mixed precision, distributed training, scaling laws"; diffusion models for a diffusion
# theorist), not the field around it, and lost its papers that the words do not back. Its
# tune and report parts: +0.038 and +0.044 since a typed text's closeness counts the latent
# and lexical scores' disagreement against a paper (+0.052 and +0.056 before): the diffusion
# theorist's about-me ("Theory and sampling of diffusion and flow-matching models: ...") now
# gets 2 papers of the report part instead of 3, one of them right instead of two.
# The tenth set's holdout part: +0.049 since each keyword is checked against the subscriber's
# other keywords (+0.062 before): the check drops a few right papers with the wrong ones
# (docs/ranking.md).
MARGINS = {"ninth": (0.06, 0.0, 0.05), "fourth": (0.10, 0.03, 0.10), "tenth": (0.10, 0.04, 0.10)}


@pytest.mark.parametrize("readers", sorted(RECORDED))
def test_the_matcher_beats_a_substring_filter_by_a_tenth_of_f1(scored, readers):
    # On average over the parts (the eleventh set: 0.491 against 0.331) and over a whole day
    # (0.503 against 0.338); on each part by at least 0.05.
    mean_margin, part_margin, day_margin = MARGINS.get(readers, (0.10, 0.05, 0.10))
    ours = [scored[readers, split]["product"].micro[2] for split in RECORDED[readers]]
    theirs = [scored[readers, split]["substring"].micro[2] for split in RECORDED[readers]]
    assert sum(ours) / len(ours) >= sum(theirs) / len(theirs) + mean_margin
    assert all(o >= t + part_margin for o, t in zip(ours, theirs))
    day = scored[readers, relevance.DAY]
    assert day["product"].micro[2] >= day["substring"].micro[2] + day_margin


@pytest.mark.parametrize("readers,count,pairs", [("new", 888, 261), ("third", 1409, 367), ("fourth", 1409, 409),
                                                 ("fifth", 1409, 320), ("sixth", 1409, 386),
                                                 ("seventh", 1409, 232), ("eighth", 1409, 146),
                                                 ("ninth", 1409, 267), ("tenth", 1409, 206),
                                                 ("eleventh", 1409, 182), ("twelfth", 1409, 111),
                                                 ("thirteenth", 1409, 108), ("fourteenth", 1409, 115),
                                                 ("fifteenth", 1409, 143), ("sixteenth", 1409, 145),
                                                 ("seventeenth", 1409, 160), ("eighteenth", 1409, 145),
                                                 ("nineteenth", 1409, 175)])
def test_each_reader_set_has_its_labels(readers, count, pairs):
    devset = relevance.load_devset(readers)
    assert len(devset.keys) == count and len(devset.grades) == pairs
    assert {r for r, _ in devset.grades} <= {p["id"] for p in devset.profiles}


@pytest.fixture(scope="module")
def after_feedback():
    devset = relevance.load_devset()
    stats = relevance.matching_stats(devset)
    said = relevance.after_feedback(devset, ["tune", "report", "holdout"], stats, share=0.5)
    return devset, stats, said


def test_feedback_in_the_emails_keeps_the_holdout_figures(after_feedback):
    # Readers who marked half the papers of three days' emails (more / fewer like this), then
    # the next day's papers: recorded P@5 0.765, nDCG@10 0.751 (0.778 / 0.749 without feedback;
    # before the learned model was read on the edition's scale and "fewer" stopped blocking
    # the reader's own field, feedback took P@5 on the first holdout from 0.731 to 0.625).
    devset, stats, said = after_feedback
    scores = relevance.evaluate(relevance.product(devset, "holdout2", stats=stats, feedback=said), devset, "holdout2")
    assert scores.p_at_5 >= 0.70 and scores.ndcg_at_10 >= 0.72


def test_learned_models_add_to_papers_they_never_saw(after_feedback):
    # The model's probability is under 0.5 for nearly every new paper; read on the edition's
    # scale, each reader's model lifts some of the next day's papers.
    from digest.matching import PaperIndex

    devset, stats, said = after_feedback
    models = [f.model for f in said.values() if f.model is not None and f.model.usable]
    assert len(models) >= 10
    values = PaperIndex(devset.period("holdout2"), stats=stats).learned_values(models)
    assert ((values > 0).sum(axis=0) >= 1).all()
