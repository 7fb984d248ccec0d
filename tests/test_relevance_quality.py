"""Relevance on the labelled development set (benchmarks/devset/): the real matcher, the
corpus statistics fitted on every stored paper of the shared data, the report half (never
used for tuning). Figures: benchmarks/README.md; a drop below them fails."""

import pytest

from benchmarks import relevance
from tests.conftest import data_file

# Reached on the report half (benchmarks/relevance.py), less a small margin.
F1 = 0.68
P_AT_5 = 0.80
NDCG_AT_10 = 0.75


@pytest.fixture(scope="module")
def scored():
    data_file("daily-papers-page.txt")
    devset = relevance.load_devset()
    stats = relevance.matching_stats(devset)
    return {
        "product": relevance.evaluate(relevance.product(devset, "report", stats=stats), devset, "report"),
        "substring": relevance.evaluate(relevance.substring_baseline(devset, "report"), devset, "report"),
    }


def test_the_matcher_reaches_its_recorded_figures_on_the_report_half(scored):
    product = scored["product"]
    assert product.micro[2] >= F1
    assert product.p_at_5 >= P_AT_5
    assert product.ndcg_at_10 >= NDCG_AT_10


def test_the_matcher_beats_a_substring_filter_by_a_tenth_of_f1(scored):
    assert scored["product"].micro[2] >= scored["substring"].micro[2] + 0.10
