"""Personalisation: every interest kind, ranking with the community signal, "more like
these", feedback links, caps with a page of all matches, weekly digests without repeats."""

import datetime as dt
import random
import re
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.test import Client

from digest.ingest import pagetext
from digest.matching import (
    Interests, LearnedModel, PaperDoc, PaperIndex, Weights, explain, match, match_many, parse_terms, rank,
    reference_match,
)
from digest.models import Batch, BatchEntry, Paper, Topic
from digest.starter_topics import STARTER_TOPICS
from subscribers.delivery import build_edition
from subscribers.models import Delivery, SentPaper, Subscriber
from subscribers.tokens import make_token
from tests.conftest import PAGE

RECORDS = pagetext.parse(PAGE.read_bytes()).records
TITLE = {r.title.split(":")[0]: i + 1 for i, r in enumerate(RECORDS)}


def page_index(signal=None, weights=None):
    signal = signal or {}
    return PaperIndex([
        PaperDoc(id=i + 1, title=r.title, abstract=r.abstract, order=i,
                 upvotes=signal.get(i + 1, (0, False))[0], featured=signal.get(i + 1, (0, False))[1])
        for i, r in enumerate(RECORDS)
    ], weights)


# --- The engine -------------------------------------------------------------------------------


def random_interests(rng: random.Random, ids: list[int]) -> Interests:
    keywords = ["LoRA", "pruning", "-survey", '"knowledge distillation"', "fine-tuning", "graph", "diffusion",
                "-benchmark", "benchmark", "transformer", "data selection", "few-shot", "reinforcement learning"]
    return Interests.build(
        topics=[(n, q) for n, _, q in rng.sample(STARTER_TOPICS, rng.randint(0, 3))],
        keywords=", ".join(rng.sample(keywords, rng.randint(0, 4))),
        liked=rng.sample(ids, rng.choice([0, 0, 0, 1, 2])),
        disliked=rng.sample(ids, rng.choice([0, 0, 0, 0, 1])),
        # An about-me changes how keywords score (Weights.keyword_backed): some have one.
        about=rng.choice(["", "", "", "Efficient fine-tuning of large language models.",
                          "Diffusion models for image generation and editing."]),
    )


def test_the_batch_path_the_single_path_and_the_reference_loop_agree():
    rng = random.Random(5)
    signal = {rng.randint(1, 93): (rng.choice([0, 3, 40, 500]), rng.random() < 0.3) for _ in range(30)}
    index = page_index(signal)
    interests = [random_interests(rng, list(range(1, 94))) for _ in range(250)]
    many = match_many(interests, index)
    for i in interests:
        expected = reference_match(i, index)
        assert rank(i, index).pairs() == expected
        assert many[i].pairs() == expected
    assert len(many) <= len(interests)


def test_one_subscribers_exclusion_never_blocks_anothers_term():
    index = page_index()
    wants = Interests.build(keywords="pruning")
    avoids = Interests.build(keywords="LoRA, -pruning")
    result = match_many([wants, avoids], index)
    assert result[wants].pairs() == rank(wants, index).pairs() and result[wants].total > 0
    assert result[avoids].total > 0
    pruning_papers = set(index.term_values(parse_terms("pruning")[0]))
    assert not pruning_papers & set(result[avoids].positions.tolist())


def test_equal_interests_are_matched_once_and_the_top_k_is_kept():
    index = page_index()
    a = Interests.build(topics=[(STARTER_TOPICS[0][0], STARTER_TOPICS[0][2])], keywords="pruning, LoRA")
    b = Interests.build(topics=[(STARTER_TOPICS[0][0], STARTER_TOPICS[0][2])], keywords="LoRA; pruning")
    result = match_many([a, b, a], index, top_k=3)
    assert len(result) == 1
    assert len(result[a].positions) == 3 and result[a].total == rank(a, index).total > 3


def test_featured_and_upvoted_papers_rise_by_the_documented_formula():
    w = Weights()
    lora = TITLE["IncreLoRA"]
    plain = {m.paper_id: m.score for m in match(Interests.build(keywords="LoRA"), page_index())}
    boosted = {m.paper_id: m.score for m in match(Interests.build(keywords="LoRA"), page_index({lora: (100, True)}))}
    # score = relevance + signal * min(1, log(1 + upvotes) / log(1 + scale)) + featured bonus
    assert boosted[lora] == pytest.approx(plain[lora] + w.signal + w.featured)
    assert {k: v for k, v in boosted.items() if k != lora} == {k: v for k, v in plain.items() if k != lora}
    # Popularity only reorders papers that cleared the floor, and each subscriber sets its weight.
    assert set(boosted) == set(plain)
    ignoring = {m.paper_id: m.score for m in match(Interests.build(keywords="LoRA", popularity=0),
                                                    page_index({lora: (100, True)}))}
    assert ignoring == plain


def test_more_like_these_finds_similar_papers_and_says_so():
    index = page_index()
    liked = TITLE["LoLDU"]
    found = match(Interests.build(liked=[liked]), index)
    titles = [RECORDS[m.paper_id - 1].title.split(":")[0] for m in found]
    assert "IncreLoRA" in titles and "LoLDU" not in titles
    increlora = next(m for m in found if m.paper_id == TITLE["IncreLoRA"])
    assert increlora.explain().startswith("because you liked “LoLDU: Low-Rank Adaptation")
    assert all(r.kind == "like" for m in found for r in m.reasons)


def test_fewer_like_this_leaves_out_the_paper_and_its_near_duplicates_not_its_field():
    # The page, plus LoLDU listed again as a revised version (a new id, one sentence more).
    loldu = RECORDS[TITLE["LoLDU"] - 1]
    relisted = PaperDoc(id=1000, title=loldu.title, order=len(RECORDS),
                        abstract=loldu.abstract + " Code and checkpoints are released.")
    index = PaperIndex([*page_index().papers, relisted])
    lora_topic = (STARTER_TOPICS[0][0], STARTER_TOPICS[0][2])
    before = {m.paper_id for m in match(Interests.build(topics=[lora_topic]), index)}
    after = {m.paper_id for m in match(Interests.build(topics=[lora_topic], disliked=[TITLE["LoLDU"]]), index)}
    assert {TITLE["LoLDU"], 1000} <= before
    assert TITLE["LoLDU"] not in after and 1000 not in after  # the paper and its near-duplicate
    # Its closest other LoRA paper (closeness 3.1) stays: "fewer like this" on one paper of
    # the reader's own topic must not empty the topic.
    assert TITLE["IncreLoRA"] in after
    assert after == before - {TITLE["LoLDU"], 1000}


def test_feedback_never_demotes_what_the_person_declared():
    # A math.CO reader (categories were all they gave) marks papers "more like this" and has a
    # learned model: every math.CO paper still clears the floor, the feedback only reorders.
    # (Categories next to feedback used to count 0.3: the digest emptied after two clicks.)
    docs = [PaperDoc(id=i, title=f"On {word} of graphs", abstract=f"We bound the {word} of graphs.",
                     categories=("math.CO",), order=i) for i, word in enumerate(
                         ["colourings", "matchings", "cliques", "Ramsey numbers", "expanders", "minors"], start=1)]
    docs += [PaperDoc(id=100 + i, title=f"A {word} for language models", abstract="We train a model.",
                      categories=("cs.CL",), order=100 + i) for i, word in enumerate(["benchmark", "tokenizer"])]
    index = PaperIndex(docs)
    model = LearnedModel(terms=(("ramsey", 2.0), ("bound", 0.5)), bias=-1.0, positives=4, negatives=3)
    declared = Interests.build(categories="math.CO")
    with_feedback = Interests.build(categories="math.CO", liked=[4], learned=model)
    assert with_feedback.learned is not None and with_feedback.categories_alone
    wanted = {d.id for d in docs if "math.CO" in d.categories}
    assert {m.paper_id for m in match(declared, index)} == wanted
    assert {m.paper_id for m in match(with_feedback, index, limit=None)} == wanted
    # The same from the batch path and the reference loop.
    assert match_many([with_feedback], index)[with_feedback].pairs() == reference_match(with_feedback, index)


def test_categories_authors_and_every_kind_explain_themselves():
    index = PaperIndex([
        PaperDoc(id=1, title="Pruning with LoRA", abstract="We prune.", authors=("Ada Lovelace",), categories=("cs.LG",), order=0),
        PaperDoc(id=2, title="Quantum stuff", abstract="Qubits.", authors=("Bob",), categories=("quant-ph",), order=1),
    ])
    i = Interests.build(topics=[("Pruning", "pruning")], keywords="LoRA", categories="cs.*", authors="ada lovelace")
    [m] = match(i, index)
    # Strongest first: the followed author, then the title words, then the category.
    assert m.explain() == 'by Ada Lovelace; Pruning: "Pruning" in title; "LoRA" in title; category cs.*'
    assert explain(i, index, 1) == ()


# --- End to end: emails, feedback, weekly --------------------------------------------------------


def send(batch_or_date, frequency="daily", capture=None):
    batch = batch_or_date if isinstance(batch_or_date, Batch) else Batch.objects.get(date=batch_or_date)
    with capture(execute=True):
        return build_edition(batch, frequency)[0]


def path_of(url):
    # The path alone (a token may well contain "8000", so never split on the port).
    return urlsplit(url).path


def body(message):
    return message.body


def test_the_cap_and_the_page_of_all_matches(batch, make_subscriber, django_capture_on_commit_callbacks):
    make_subscriber(topics=["llm"], max_papers=3)
    edition = send(batch, capture=django_capture_on_commit_callbacks)
    [message] = mail.outbox
    assert message.body.count("Why: ") == 3
    more = re.search(r"(\d+) more matching papers: (\S+)", message.body)
    assert more and int(more.group(1)) > 5
    page = Client().get(path_of(more.group(2)))
    html = page.content.decode()
    assert page.status_code == 200 and html.count('class="why"') == int(more.group(1)) + 3
    assert html.count("in your email</span>") == 3
    assert f"/edition/{edition.pk}/" in more.group(2)


def test_every_paper_in_every_email_says_why(batch, make_subscriber, django_capture_on_commit_callbacks):
    make_subscriber("a@example.org", topics=["lora-peft", "unlearning"], keywords="benchmark")
    make_subscriber("b@example.org", categories="cs.*", keywords="diffusion")
    make_subscriber("c@example.org", keywords='"knowledge distillation"')
    send(batch, capture=django_capture_on_commit_callbacks)
    assert len(mail.outbox) == 3  # the page text has no categories: b gets its "diffusion" papers
    for message in mail.outbox:
        blocks = re.split(r"\n\d+\. ", message.body)[1:]
        assert blocks and all("   Why: " in block for block in blocks)


def test_feedback_links_are_tokenized_confirmed_by_post_and_change_the_next_email(
        batch, make_subscriber, django_capture_on_commit_callbacks):
    subscriber = make_subscriber(topics=["lora-peft", "unlearning"])
    send(batch, capture=django_capture_on_commit_callbacks)
    text = mail.outbox[0].body
    # The text part has one link per paper, to a page with the choices (the HTML part links
    # each choice directly).
    choices = [path_of(url) for url in re.findall(r"More or fewer like this: (\S+)", text)]
    assert len(choices) == len(re.findall(r"\n\d+\. ", text)) and "Fewer like this:" not in text
    client = Client(enforce_csrf_checks=True)
    pages = [client.get(url).content.decode() for url in choices]
    more = re.search(r'action="(/f/[^"]+/more/\d+/)"', pages[0]).group(1)
    unlearning = Topic.objects.get(slug="unlearning")
    mute = next(m.group(1) for page in pages
                for m in [re.search(rf'action="(/f/[^"]+/mute/{unlearning.pk}/)"', page)] if m)
    assert "Stop sending Machine unlearning" in " ".join(pages)
    assert "<form" in client.get(more).content.decode()
    subscriber.refresh_from_db()
    assert not subscriber.liked_papers.exists()  # GET changes nothing
    assert client.post(more, {}).status_code == 403  # CSRF applies
    client.post(more, {"csrfmiddlewaretoken": client.cookies["csrftoken"].value})
    client.get(mute)
    client.post(mute, {"csrfmiddlewaretoken": client.cookies["csrftoken"].value})
    subscriber.refresh_from_db()
    assert subscriber.liked_papers.count() == 1
    assert [t.slug for t in subscriber.topics.all()] == ["lora-peft"]
    # A wrong token or a token for another purpose is a 404.
    assert Client().get(more.replace(make_token(subscriber, "feedback")[:10], "x" * 10)).status_code == 404
    assert Client().get(f"/f/{make_token(subscriber, 'manage')}/more/1/").status_code == 404
    # The next digest (a new day with the same papers) follows the feedback.
    Delivery.objects.all().delete()
    SentPaper.objects.all().delete()
    mail.outbox.clear()
    send(batch, capture=django_capture_on_commit_callbacks)
    new_text = mail.outbox[0].body
    assert "Machine unlearning" not in new_text.split("--")[0]
    # The liked paper now counts among the interests (supporting evidence next to topics).
    assert subscriber.interests().liked == tuple(subscriber.liked_papers.values_list("pk", flat=True))


def test_fewer_like_this_from_an_email(batch, make_subscriber, django_capture_on_commit_callbacks):
    subscriber = make_subscriber(topics=["lora-peft"])
    send(batch, capture=django_capture_on_commit_callbacks)
    first = re.search(r"\n1\. (.+)", mail.outbox[0].body).group(1)
    choices = re.search(r"More or fewer like this: (\S+)", mail.outbox[0].body).group(1)
    choices = path_of(choices)
    fewer = re.search(r'action="(/f/[^"]+/fewer/\d+/)"', Client().get(choices).content.decode()).group(1)
    done = Client().post(fewer).content.decode()
    assert f"Fewer papers like <strong>{first}</strong>" in done  # the page after POST names the paper
    assert subscriber.disliked_papers.get().title == first
    Delivery.objects.all().delete()
    SentPaper.objects.all().delete()
    mail.outbox.clear()
    send(batch, capture=django_capture_on_commit_callbacks)
    assert first not in mail.outbox[0].body


def add_day(day: dt.date, papers: list[Paper]) -> Batch:
    batch = Batch.objects.create(date=day)
    for position, paper in enumerate(papers, start=1):
        BatchEntry.objects.create(batch=batch, paper=paper, position=position)
    batch.publish()
    return batch


def test_weekly_digests_gather_the_week_and_never_repeat_a_paper(batch, make_subscriber, django_capture_on_commit_callbacks):
    subscriber = make_subscriber("w@example.org", topics=["lora-peft"], max_papers=50)
    # Daily first: the 19 March papers go out.
    send(batch, capture=django_capture_on_commit_callbacks)
    daily_titles = set(re.findall(r"\n\d+\. (.+)", mail.outbox[0].body))
    assert daily_titles
    # A later day re-features two of those papers next to a new one.
    lolddu = Paper.objects.get(title__startswith="LoLDU")
    incre = Paper.objects.get(title__startswith="IncreLoRA")
    new = Paper.objects.create(key="title:a new lora paper", title="A New LoRA Variant for Vision Transformers",
                               abstract="We propose a LoRA variant.", title_key="a new lora variant for vision transformers")
    add_day(batch.date + dt.timedelta(days=2), [lolddu, new, incre])
    Subscriber.objects.filter(pk=subscriber.pk).update(frequency="weekly")
    mail.outbox.clear()
    edition = send(batch.date + dt.timedelta(days=2), "weekly", capture=django_capture_on_commit_callbacks)
    assert (edition.start_date, edition.end_date) == (batch.date - dt.timedelta(days=4), batch.date + dt.timedelta(days=2))
    [weekly] = mail.outbox
    weekly_titles = set(re.findall(r"\n\d+\. (.+)", weekly.body))
    assert weekly_titles == {"A New LoRA Variant for Vision Transformers"}
    assert not weekly_titles & daily_titles
    assert SentPaper.objects.filter(subscriber=subscriber).count() == len(daily_titles) + 1


def test_the_ledger_forgets_after_its_retention(batch, make_subscriber, django_capture_on_commit_callbacks, settings):
    from django.utils import timezone

    from subscribers.ledger import prune as prune_ledger

    first = make_subscriber("old@example.org", topics=["lora-peft"])
    second = make_subscriber("new@example.org", topics=["lora-peft"])
    send(batch, capture=django_capture_on_commit_callbacks)
    sent = {s.pk: SentPaper.objects.filter(subscriber=s).count() for s in (first, second)}
    assert all(sent.values())
    Delivery.objects.filter(subscriber=first).update(sent_at=timezone.now() - dt.timedelta(days=181))
    settings.SENT_LEDGER_DAYS = 0  # keeps everything
    assert prune_ledger() == 0
    settings.SENT_LEDGER_DAYS = 180
    assert prune_ledger(chunk=3) == sent[first.pk]  # several chunks
    assert not SentPaper.objects.filter(subscriber=first).exists()
    assert SentPaper.objects.filter(subscriber=second).count() == sent[second.pk]
    assert Delivery.objects.filter(subscriber=first, status="sent").exists()  # the deliveries stay


def test_the_preview_shows_every_interest_kind(batch, make_subscriber):
    subscriber = make_subscriber(topics=["unlearning"], keywords="LoRA")
    subscriber.liked_papers.add(Paper.objects.get(title__startswith="Compact Language Models"))
    html = Client().get(f"/u/{make_token(subscriber, 'manage')}/").content.decode()
    assert "Why: Machine unlearning: “<b>Unlearning</b>” in title (core)" in html
    assert "Why: “<b>Low-Rank Adaptation</b>” (LoRA) in title (core)" in html and "“<b>LoRA</b>” in abstract" in html
    fan = make_subscriber("fan@example.org", topics=[])
    fan.liked_papers.add(Paper.objects.get(title__startswith="LoLDU"))
    html = Client().get(f"/u/{make_token(fan, 'manage')}/").content.decode()
    assert "Why: because you liked “LoLDU" in html
