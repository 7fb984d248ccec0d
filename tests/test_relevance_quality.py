"""Relevance on the labelled development set (benchmarks/devset/): the real matcher, the
corpus statistics fitted on every stored paper of the shared data, against the labels of eight
sets of readers (benchmarks/devset/README.md), every pair judged by reading before the matcher
ran on it:
- the original 17 (profiles.json): the report half and the three holdouts, each scored once,
  then tuned on;
- ten new readers (profiles-new.json) on the three holdouts' papers, and twelve more each in
  profiles-third.json, -fourth.json and -fifth.json on all five parts: each scored once, then
  tuned on;
- twelve more each in profiles-sixth.json and -seventh.json on all five parts, written by
  someone who never saw the matcher: each scored once, then studied and tuned on (the order
  by closeness to the typed texts, ORDER_CLOSENESS, was fitted on the first seven sets);
- twelve more in profiles-eighth.json on all five parts, written and judged the same way
  before that change: never tuned on, scored once with the engine before it and after it.
Each set is scored part by part (a fifth of a day each) and as one whole day.
Figures: benchmarks/README.md; a drop below them fails."""

import pytest

from benchmarks import relevance
from tests.conftest import data_file

# Reached by benchmarks/relevance.py, less a small margin: (F1, P@5, nDCG@10) per reader set
# and part, each part one day's edition.
RECORDED = {
    "original": {
        "report": (0.69, 0.84, 0.80),  # 0.717 / 0.868 / 0.823
        "holdout": (0.62, 0.78, 0.67),  # 0.641 / 0.805 / 0.695
        "holdout2": (0.60, 0.73, 0.73),  # 0.629 / 0.753 / 0.755
        "holdout3": (0.63, 0.81, 0.71),  # 0.651 / 0.831 / 0.739
    },
    "new": {
        "holdout": (0.55, 0.64, 0.53),  # 0.573 / 0.668 / 0.559
        "holdout2": (0.53, 0.79, 0.61),  # 0.558 / 0.817 / 0.635
        "holdout3": (0.60, 0.89, 0.67),  # 0.626 / 0.910 / 0.699
    },
    "third": {
        "tune": (0.62, 0.76, 0.72),  # 0.645 / 0.789 / 0.741
        "report": (0.62, 0.86, 0.67),  # 0.646 / 0.889 / 0.699
        "holdout": (0.71, 0.70, 0.62),  # 0.736 / 0.721 / 0.642
        "holdout2": (0.70, 0.87, 0.64),  # 0.722 / 0.891 / 0.662
        "holdout3": (0.72, 0.73, 0.76),  # 0.741 / 0.751 / 0.782
    },
    "fourth": {
        "tune": (0.51, 0.85, 0.58),  # 0.533 / 0.873 / 0.601
        "report": (0.49, 0.76, 0.52),  # 0.517 / 0.788 / 0.546
        "holdout": (0.60, 0.68, 0.58),  # 0.621 / 0.700 / 0.602
        "holdout2": (0.58, 0.62, 0.54),  # 0.605 / 0.642 / 0.560
        "holdout3": (0.61, 0.80, 0.61),  # 0.636 / 0.824 / 0.632
    },
    "fifth": {
        "tune": (0.44, 0.61, 0.36),  # 0.467 / 0.630 / 0.386
        "report": (0.52, 0.86, 0.56),  # 0.549 / 0.887 / 0.580
        "holdout": (0.56, 0.64, 0.51),  # 0.589 / 0.667 / 0.531
        "holdout2": (0.52, 0.73, 0.48),  # 0.545 / 0.752 / 0.509
        "holdout3": (0.57, 0.81, 0.56),  # 0.594 / 0.833 / 0.582
    },
    "sixth": {
        "tune": (0.58, 0.85, 0.62),  # 0.602 / 0.871 / 0.642
        "report": (0.38, 0.65, 0.40),  # 0.400 / 0.675 / 0.427
        "holdout": (0.36, 0.58, 0.40),  # 0.381 / 0.600 / 0.428
        "holdout2": (0.49, 0.62, 0.53),  # 0.514 / 0.648 / 0.555
        "holdout3": (0.53, 0.68, 0.45),  # 0.556 / 0.705 / 0.479
    },
    "seventh": {
        "tune": (0.35, 0.39, 0.30),  # 0.370 / 0.418 / 0.322
        "report": (0.50, 0.68, 0.51),  # 0.523 / 0.709 / 0.538
        "holdout": (0.42, 0.48, 0.41),  # 0.447 / 0.500 / 0.431
        "holdout2": (0.42, 0.40, 0.36),  # 0.444 / 0.420 / 0.380
        "holdout3": (0.35, 0.35, 0.24),  # 0.376 / 0.378 / 0.267
    },
    "eighth": {
        "tune": (0.58, 0.68, 0.50),  # 0.604 / 0.700 / 0.528
        "report": (0.47, 0.48, 0.22),  # 0.490 / 0.500 / 0.243
        "holdout": (0.54, 0.60, 0.33),  # 0.560 / 0.621 / 0.358
        "holdout2": (0.42, 0.49, 0.47),  # 0.448 / 0.515 / 0.496
        "holdout3": (0.42, 0.45, 0.35),  # 0.441 / 0.474 / 0.374
    },
}
# The mean over a reader set's parts.
RECORDED_MEAN = {
    "original": (0.63, 0.79, 0.73),  # 0.659 / 0.814 / 0.753 (these four parts)
    "new": (0.56, 0.77, 0.61),  # 0.586 / 0.798 / 0.631
    "third": (0.67, 0.78, 0.68),  # 0.698 / 0.808 / 0.705
    "fourth": (0.56, 0.74, 0.56),  # 0.582 / 0.765 / 0.588
    "fifth": (0.52, 0.73, 0.49),  # 0.549 / 0.754 / 0.518
    "sixth": (0.47, 0.67, 0.48),  # 0.491 / 0.700 / 0.506
    "seventh": (0.41, 0.46, 0.36),  # 0.432 / 0.485 / 0.388
    "eighth": (0.48, 0.54, 0.37),  # 0.509 / 0.562 / 0.400, never tuned on
}
# Every labelled paper of a set as one edition, the size of a real day (relevance.DAY).
RECORDED_DAY = {
    "original": (0.65, 0.94, 0.86),  # 0.674 / 0.965 / 0.888
    "new": (0.55, 0.86, 0.75),  # 0.577 / 0.880 / 0.773
    "third": (0.68, 0.94, 0.83),  # 0.708 / 0.967 / 0.857
    "fourth": (0.56, 0.83, 0.74),  # 0.589 / 0.850 / 0.766
    "fifth": (0.52, 0.81, 0.66),  # 0.543 / 0.833 / 0.687
    "sixth": (0.45, 0.88, 0.63),  # 0.472 / 0.900 / 0.651
    "seventh": (0.40, 0.56, 0.42),  # 0.426 / 0.589 / 0.444
    "eighth": (0.50, 0.78, 0.56),  # 0.528 / 0.800 / 0.585, never tuned on
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


@pytest.mark.parametrize("readers", sorted(RECORDED))
def test_the_matcher_beats_a_substring_filter_by_a_tenth_of_f1(scored, readers):
    # On average over the parts (the eighth set: 0.509 against 0.340) and over a whole day
    # (0.528 against 0.335); on each part by at least 0.05 (the sixth set's third: +0.059).
    ours = [scored[readers, split]["product"].micro[2] for split in RECORDED[readers]]
    theirs = [scored[readers, split]["substring"].micro[2] for split in RECORDED[readers]]
    assert sum(ours) / len(ours) >= sum(theirs) / len(theirs) + 0.10
    assert all(o >= t + 0.05 for o, t in zip(ours, theirs))
    day = scored[readers, relevance.DAY]
    assert day["product"].micro[2] >= day["substring"].micro[2] + 0.10


@pytest.mark.parametrize("readers,count,pairs", [("new", 888, 261), ("third", 1409, 367), ("fourth", 1409, 409),
                                                 ("fifth", 1409, 320), ("sixth", 1409, 386),
                                                 ("seventh", 1409, 232), ("eighth", 1409, 146)])
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
