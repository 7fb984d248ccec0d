"""Learning from feedback on real papers (the 1,504-paper arXiv feed of 2024-11-28, split
into two days): reactions become labels, the model is retrained and stored compactly, the
next edition changes, and what was learned can be seen and removed."""

import datetime as dt
import json
import re
import time

import feedparser
import pytest
from django.test import Client
from django.utils import timezone

from digest import corpus
from digest.ingest.formats import parse
from digest.ingest.records import ParseResult
from digest.ingest.store import store
from digest.matching import CorpusStats, PaperDoc
from digest.matching.learned import MIN_LABELS
from digest.models import Batch, Paper
from digest.selection import PeriodContent
from subscribers import learning, lifecycle
from subscribers.models import Learning, Reaction
from subscribers.tokens import make_token
from tests.conftest import csrf_post, data_file

pytestmark = pytest.mark.django_db

FEED = "arxiv_rss_new/aioarxiv_rss_20archives_2024-11-28_full1504items.xml"
DAY1 = timezone.localdate() - dt.timedelta(days=2)
DAY2 = timezone.localdate() - dt.timedelta(days=1)
# Image-generation diffusion papers of the first day, and papers where "diffusion" means
# something else (a PDE, a stochastic process, knowledge spreading).
IMAGE_DIFFUSION = ["2411.17784", "2411.17957", "2411.18109", "2411.18263", "2411.18350"]
OTHER_DIFFUSION = ["2411.18223", "2411.18336", "2411.18374", "2411.17899"]


@pytest.fixture(scope="module")
def feed_records():
    return parse(data_file(FEED).read_bytes()).records


@pytest.fixture(scope="module")
def feed_stats(feed_records):
    return CorpusStats.fit([PaperDoc(id=i, title=r.title, abstract=r.abstract) for i, r in enumerate(feed_records)])


@pytest.fixture
def two_days(feed_records, feed_stats):
    """The feed's first 750 papers as one published day, the rest as the next; the corpus
    statistics of the whole feed fitted once for the module (as the stored fit would be)."""
    corpus._current.update(id=-1, stats=feed_stats, checked=time.monotonic() + 1e9)
    for day, records in ((DAY1, feed_records[:750]), (DAY2, feed_records[750:])):
        store(ParseResult(format="arxiv_rss", records=records), date=day)
        Batch.objects.get(date=day).publish()
    return {p.arxiv_id: p for p in Paper.objects.exclude(arxiv_id="")}


def ranked_ids(subscriber, day=DAY2, cap=50):
    content = PeriodContent(day, day)
    content.add_external([*subscriber.liked_papers.all(), *subscriber.disliked_papers.all()])
    matches, _ = content.select(subscriber.interests(), cap)
    return [content.papers[m.paper_id].arxiv_id for m in matches], matches


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run a call as its own committed transaction would: the tasks it queues on commit (the
    retrain, in-process here) run when it returns."""
    def run(function, *args):
        with django_capture_on_commit_callbacks(execute=True):
            return function(*args)
    return run


@pytest.fixture
def give_feedback(committed):
    def give(subscriber, papers):
        for arxiv_id in IMAGE_DIFFUSION:
            committed(lifecycle.apply_feedback, subscriber, "more", papers[arxiv_id])
        for arxiv_id in OTHER_DIFFUSION:
            committed(lifecycle.apply_feedback, subscriber, "not", papers[arxiv_id])
    return give


def test_feedback_retrains_the_model_and_the_next_edition_changes(two_days, make_subscriber, give_feedback):
    subscriber = make_subscriber(keywords="diffusion", strictness="broad")
    before, _ = ranked_ids(subscriber)
    give_feedback(subscriber, two_days)  # in-process: each one retrains at once
    row = Learning.objects.get(subscriber=subscriber)
    assert row.labels == len(IMAGE_DIFFUSION) + len(OTHER_DIFFUSION) and not row.due
    assert len(json.dumps(row.model)) < 12_000  # a few KB on the row
    subscriber.refresh_from_db()
    model = subscriber.interests().learned
    assert model is not None and model.usable and model.positives == 5 and model.negatives == 4
    after, matches = ranked_ids(subscriber)
    assert after != before
    # The next day's image-generation papers rise (3D humans, weeds and chest X-rays made
    # with generative models); "diffusion" in a spin liquid, the popularity of ideas and
    # light in a medium falls.
    image_next = ["2411.18624", "2411.18513", "2411.18602"]
    other_next = ["2411.18518", "2411.18541", "2411.18570"]

    def mean_rank(order, ids):
        return sum(order.index(i) if i in order else len(order) for i in ids) / len(ids)

    assert mean_rank(after, image_next) < mean_rank(before, image_next)
    assert mean_rank(after, other_next) > mean_rank(before, other_next)
    kinds = {r.kind for m in matches[:5] for r in m.reasons}
    assert kinds & {"learned", "like"}


def test_below_a_few_labels_explicit_interests_alone_decide(two_days, make_subscriber, give_feedback):
    subscriber = make_subscriber(keywords="diffusion", strictness="broad")
    before, _ = ranked_ids(subscriber)
    for arxiv_id in OTHER_DIFFUSION[: MIN_LABELS - 1]:
        lifecycle.apply_feedback(subscriber, "not", two_days[arxiv_id])
    summary = learning.learned(subscriber)
    assert summary.labels == MIN_LABELS - 1 and not summary.in_use and summary.needed >= 1
    assert subscriber.interests().learned is None
    assert ranked_ids(subscriber)[0] == before  # "not interested" alone changes nothing yet
    page = Client().get(f"/u/{make_token(subscriber, 'manage')}/").content.decode()
    assert "It starts learning after" in page


def test_the_preference_centre_shows_what_was_learned_and_removes_it(two_days, make_subscriber, give_feedback,
                                                                     committed):
    subscriber = make_subscriber(keywords="diffusion", strictness="broad")
    give_feedback(subscriber, two_days)
    summary = learning.learned(subscriber)
    assert summary.in_use and summary.terms and len(summary.liked) == 5 and len(summary.fewer) == 4
    term = summary.terms[0]
    client = Client(enforce_csrf_checks=True)
    manage = f"/u/{make_token(subscriber, 'manage')}/"
    page = client.get(manage).content.decode()
    assert term.word in page and "Words that bring papers up" in page
    assert "Diffusion Autoencoders for Few-shot Image Generation" in page and "(more like this)" in page
    # Remove a learned word: gone from the stored model at once, and from every retrain.
    response = csrf_post(client, f"{manage}learned/", {"term": term.stem, "word": term.word})
    assert response.status_code == 302
    row = Learning.objects.get(subscriber=subscriber)
    assert term.stem in row.forgotten_terms
    assert term.stem not in {t for t, _ in row.engine_model().terms}
    learning.retrain(subscriber.pk)
    assert term.stem not in {t for t, _ in Learning.objects.get(subscriber=subscriber).engine_model().terms}
    assert f"Forgotten: “{term.word}”" in client.get(manage).content.decode()
    # Remove a liked paper: no longer liked, no longer a label, the model retrained.
    liked = two_days[IMAGE_DIFFUSION[0]]
    committed(csrf_post, client, f"{manage}learned/", {"paper": liked.pk})
    assert not subscriber.liked_papers.filter(pk=liked.pk).exists()
    assert liked.pk not in learning.labels_of(subscriber)
    assert Learning.objects.get(subscriber=subscriber).labels == 8


def test_opposite_reactions_undo_each_other_and_upvotes_and_clicks_are_labels(two_days, make_subscriber, give_feedback):
    subscriber = make_subscriber(keywords="diffusion")
    paper = two_days[IMAGE_DIFFUSION[0]]
    lifecycle.apply_feedback(subscriber, "fewer", paper)
    assert subscriber.disliked_papers.filter(pk=paper.pk).exists()
    lifecycle.apply_feedback(subscriber, "more", paper)
    assert not subscriber.disliked_papers.exists() and subscriber.liked_papers.filter(pk=paper.pk).exists()
    assert set(Reaction.objects.filter(subscriber=subscriber).values_list("kind", flat=True)) == {"more"}
    other = two_days[IMAGE_DIFFUSION[1]]
    lifecycle.apply_feedback(subscriber, "upvote", other)
    assert learning.record_click(subscriber.pk, two_days[IMAGE_DIFFUSION[2]].pk)
    assert not learning.record_click(subscriber.pk, two_days[IMAGE_DIFFUSION[2]].pk)  # once per paper
    labels = learning.labels_of(subscriber)
    assert labels[paper.pk] == labels[other.pk] == 1.0 and labels[two_days[IMAGE_DIFFUSION[2]].pk] == 0.3
    # An unvote takes back only what the vote added.
    lifecycle.withdraw_feedback(subscriber, other, "upvote")
    assert not subscriber.liked_papers.filter(pk=other.pk).exists()
    lifecycle.apply_feedback(subscriber, "upvote", paper)
    lifecycle.withdraw_feedback(subscriber, paper, "upvote")
    assert subscriber.liked_papers.filter(pk=paper.pk).exists()  # still "more like this"


def test_retraining_is_debounced_and_beat_retrains_what_changed(two_days, make_subscriber, give_feedback):
    subscriber = make_subscriber(keywords="diffusion")
    give_feedback(subscriber, two_days)
    row = Learning.objects.get(subscriber=subscriber)
    assert not row.due and not learning.retrain_if_settled(subscriber.pk)
    Learning.objects.filter(pk=row.pk).update(changed_at=timezone.now())
    # Feedback still arriving: a queued retrain with a settle time waits for the last one.
    assert not learning.retrain_if_settled(subscriber.pk, settle_seconds=60)
    assert learning.retrain_due() == 1 and learning.retrain_due() == 0
    assert not Learning.objects.get(pk=row.pk).due


def test_the_export_holds_reactions_and_the_learned_model(two_days, make_subscriber, give_feedback):
    subscriber = make_subscriber(keywords="diffusion")
    give_feedback(subscriber, two_days)
    data = lifecycle.export_data(subscriber)
    assert len(data["reactions"]) == 9 and data["learned_model"]["positives"] == 5
    assert data["liked_papers"] and data["fewer_like_papers"] == []


# --- Where feedback is given: the email's links, the preference centre, the private pages -----------


def test_not_interested_from_an_email_link_asks_first_then_records(batch, make_subscriber, committed):
    subscriber = make_subscriber(topics=["lora-peft"])
    paper = Paper.objects.get(title__startswith="LoLDU")
    url = f"/f/{make_token(subscriber, 'feedback')}/not/{paper.pk}/"
    page = Client().get(url).content.decode()
    assert "Not interested in this paper?" in page and not Reaction.objects.exists()  # scanners only look
    done = committed(Client().post, url).content.decode()
    assert "LoLDU" in done and "It starts learning after 4 more" in done
    assert Reaction.objects.get(subscriber=subscriber).kind == "not"
    assert not subscriber.disliked_papers.exists()  # a label, not a block on similar papers


def test_the_preview_and_the_edition_page_take_feedback(batch, make_subscriber, committed):
    subscriber = make_subscriber(topics=["lora-peft"])
    client = Client(enforce_csrf_checks=True)
    manage = f"/u/{make_token(subscriber, 'manage')}/"
    page = client.get(manage).content.decode()
    assert page.count('name="action" value="not"') >= 3
    paper = Paper.objects.get(title__startswith="LoLDU")
    response = committed(csrf_post, client, f"{manage}react/", {"action": "more", "paper": paper.pk})
    assert response.status_code == 302 and response["Location"].endswith("#preview")
    assert subscriber.liked_papers.filter(pk=paper.pk).exists()
    assert csrf_post(client, f"{manage}react/", {"action": "delete", "paper": paper.pk}).status_code == 404
    assert Client().post(f"{manage}react/", {"action": "more", "paper": paper.pk}).status_code in (403, 302)


def test_the_private_feed_links_each_paper_to_the_feedback_pages(batch, make_subscriber):
    subscriber = make_subscriber(topics=["lora-peft"])
    feed = feedparser.parse(Client().get(f"/feed/u/{make_token(subscriber, 'feed')}/").content)
    summary = feed.entries[0].summary
    assert "Why:" in summary and "More like this" in summary and "Not interested" in summary
    # A feedback token of this subscriber (signed with the time, so not compared whole).
    assert re.search(rf"/f/{subscriber.uid.hex}:[\w-]+:[\w-]+/not/\d+/", summary)
