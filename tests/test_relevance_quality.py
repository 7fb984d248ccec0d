"""Relevance on the labelled development set (benchmarks/devset/): the real matcher, the
corpus statistics fitted on every stored paper of the shared data, against the labels of four
sets of readers (benchmarks/devset/README.md), every pair judged by reading before the matcher
ran on it:
- the original 17 (profiles.json): the report half and the three holdouts, each scored once,
  then tuned on;
- ten new readers (profiles-new.json) on the three holdouts' papers and twelve more
  (profiles-third.json) on all five parts: each scored once, then tuned on;
- twelve more (profiles-fourth.json) on all five parts, made and judged before the last
  tuning and scored once after it: never tuned on.
Figures: benchmarks/README.md; a drop below them fails."""

import pytest

from benchmarks import relevance
from tests.conftest import data_file

# Reached by benchmarks/relevance.py, less a small margin: (F1, P@5, nDCG@10) per reader set
# and part, each part one day's edition.
RECORDED = {
    "original": {
        "report": (0.70, 0.84, 0.78),  # 0.727 / 0.863 / 0.801
        "holdout": (0.62, 0.73, 0.65),  # 0.641 / 0.758 / 0.678
        "holdout2": (0.61, 0.74, 0.75),  # 0.636 / 0.767 / 0.779
        "holdout3": (0.63, 0.79, 0.74),  # 0.654 / 0.812 / 0.762
    },
    "new": {
        "holdout": (0.54, 0.64, 0.53),  # 0.562 / 0.668 / 0.553
        "holdout2": (0.52, 0.74, 0.60),  # 0.544 / 0.767 / 0.625
        "holdout3": (0.61, 0.88, 0.68),  # 0.631 / 0.910 / 0.703
    },
    "third": {
        "tune": (0.62, 0.76, 0.72),  # 0.645 / 0.789 / 0.743
        "report": (0.64, 0.85, 0.70),  # 0.667 / 0.882 / 0.725
        "holdout": (0.71, 0.68, 0.62),  # 0.739 / 0.708 / 0.641
        "holdout2": (0.68, 0.82, 0.64),  # 0.701 / 0.845 / 0.668
        "holdout3": (0.72, 0.73, 0.78),  # 0.746 / 0.760 / 0.809
    },
    "fourth": {
        "tune": (0.50, 0.83, 0.55),  # 0.520 / 0.855 / 0.578
        "report": (0.49, 0.70, 0.50),  # 0.514 / 0.724 / 0.528
        "holdout": (0.62, 0.77, 0.60),  # 0.644 / 0.800 / 0.623
        "holdout2": (0.57, 0.60, 0.55),  # 0.590 / 0.625 / 0.574
        "holdout3": (0.60, 0.73, 0.58),  # 0.622 / 0.755 / 0.608
    },
}
# The mean over a reader set's parts.
RECORDED_MEAN = {
    "original": (0.65, 0.78, 0.73),  # 0.665 / 0.800 / 0.755 (these four parts)
    "new": (0.56, 0.76, 0.60),  # 0.579 / 0.782 / 0.627
    "third": (0.68, 0.77, 0.69),  # 0.700 / 0.797 / 0.717
    "fourth": (0.56, 0.73, 0.56),  # 0.578 / 0.752 / 0.582, never tuned on
}
CASES = [(readers, split) for readers, parts in RECORDED.items() for split in parts]


@pytest.fixture(scope="module")
def scored():
    data_file("daily-papers-page.txt")
    out = {}
    for readers, parts in RECORDED.items():
        devset = relevance.load_devset(readers)
        stats = relevance.matching_stats(devset)
        for split in parts:
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


@pytest.mark.parametrize("readers", sorted(RECORDED))
def test_the_matcher_beats_a_substring_filter_by_a_tenth_of_f1(scored, readers):
    # On average over the days (the fourth set: 0.578 against 0.420); on each day by at least
    # 0.05 (the fourth set's first two days: +0.098 and +0.093).
    ours = [scored[readers, split]["product"].micro[2] for split in RECORDED[readers]]
    theirs = [scored[readers, split]["substring"].micro[2] for split in RECORDED[readers]]
    assert sum(ours) / len(ours) >= sum(theirs) / len(theirs) + 0.10
    assert all(o >= t + 0.05 for o, t in zip(ours, theirs))


@pytest.mark.parametrize("readers,count,pairs", [("new", 888, 261), ("third", 1409, 367), ("fourth", 1409, 409)])
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
