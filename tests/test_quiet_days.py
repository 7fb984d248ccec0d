"""Quiet days and the Why line, on the real seed page (93 papers of 2026-03-19).

A day when nothing clears a subscriber's floor sends no email: the delivery is skipped with
the reason, told apart from a day the source announced nothing; those who ask for it get a
one-line "nothing strong today" instead; the edition admin counts each reason. Every picked
paper's Why line says which word, where, and how strongly, in the HTML and the text."""

import datetime as dt
import re
from dataclasses import replace

import pytest
from django.core import mail
from django.test import Client

from digest.matching import Reason
from digest.models import Batch
from subscribers import why
from subscribers.delivery import build_edition
from subscribers.emails import _why_lines
from subscribers.models import Delivery, Subscriber
from subscribers.tokens import make_token
from tests.conftest import PAGE_DATE

pytestmark = pytest.mark.django_db


def send(batch, capture, frequency="daily"):
    with capture(execute=True):
        return build_edition(batch, frequency)[0]


def reasons(edition):
    return dict(Delivery.objects.filter(edition=edition).values_list("subscriber__email", "skip_reason"))


def test_nothing_above_the_floor_is_a_skip_with_its_reason_or_a_one_line_note(batch, make_subscriber,
                                                                              django_capture_on_commit_callbacks):
    make_subscriber("quiet@example.org", keywords="galaxy redshift")  # astronomy: not on this ML page
    make_subscriber("note@example.org", keywords="galaxy redshift", quiet_day_note=True)
    make_subscriber("reader@example.org", topics=["lora-peft"])
    edition = send(batch, django_capture_on_commit_callbacks)
    rows = {d.subscriber.email: d for d in Delivery.objects.filter(edition=edition).select_related("subscriber")}
    assert rows["quiet@example.org"].status == "skipped"
    assert rows["quiet@example.org"].skip_reason == Delivery.NOTHING_ABOVE_FLOOR == "nothing above your floor"
    assert rows["note@example.org"].status == "sent" and rows["note@example.org"].papers == []
    assert rows["note@example.org"].skip_reason == Delivery.NOTHING_ABOVE_FLOOR
    assert rows["reader@example.org"].status == "sent" and rows["reader@example.org"].skip_reason == ""
    note = next(m for m in mail.outbox if m.to == ["note@example.org"])
    assert note.subject == "Nothing strong today · Thu 19 Mar"
    assert "No paper cleared your bar (balanced), so no digest." in note.body
    assert "Why:" not in note.body and note.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert len(mail.outbox) == 2


def test_a_day_the_source_announced_nothing_is_told_apart(batch, make_subscriber, django_capture_on_commit_callbacks):
    make_subscriber("note@example.org", keywords="LoRA", quiet_day_note=True)
    empty = Batch.objects.create(date=PAGE_DATE + dt.timedelta(days=1))
    empty.publish()
    edition = send(empty, django_capture_on_commit_callbacks)
    assert reasons(edition) == {"note@example.org": Delivery.NOTHING_ANNOUNCED}
    assert Delivery.objects.get(edition=edition).status == "skipped" and not mail.outbox  # no note for silence


def test_what_cleared_the_floor_but_was_sent_before_is_its_own_reason(batch, make_subscriber,
                                                                     django_capture_on_commit_callbacks):
    make_subscriber("daily@example.org", topics=["lora-peft"])
    send(batch, django_capture_on_commit_callbacks)
    Delivery.objects.update(status="sent")
    # The weekly edition of the same day covers the same papers: the ledger says all were sent.
    Subscriber.objects.filter(email="daily@example.org").update(frequency="weekly")
    weekly = send(batch, django_capture_on_commit_callbacks, frequency="weekly")
    assert reasons(weekly) == {"daily@example.org": Delivery.NOTHING_NEW}


def test_the_edition_admin_counts_each_reason(batch, make_subscriber, admin_client, django_capture_on_commit_callbacks):
    make_subscriber("a@example.org", keywords="galaxy redshift")
    make_subscriber("b@example.org", keywords="galaxy redshift")
    make_subscriber("c@example.org", keywords="galaxy redshift", quiet_day_note=True)
    edition = send(batch, django_capture_on_commit_callbacks)
    assert edition.reason_counts() == [("sent", "nothing above your floor", 1), ("skipped", "nothing above your floor", 2)]
    page = admin_client.get(f"/admin/subscribers/edition/{edition.pk}/change/").content.decode()
    assert "skipped, nothing above your floor: 2" in page and "quiet-day note sent, nothing above your floor: 1" in page


def test_the_preference_centre_sets_strictness_about_me_and_quiet_day_notes(batch, make_subscriber):
    subscriber = make_subscriber(keywords="LoRA")
    manage = f"/u/{make_token(subscriber, 'manage')}/"
    page = Client().get(manage).content.decode()
    for line in ("Strict: only strong matches", "Balanced: core matches", "Broad: passing mentions too"):
        assert line in page
    data = {"keywords": "LoRA", "about": "  I compress   language models. ", "strictness": "strict",
            "quiet_day_note": "on", "frequency": "daily", "max_papers": "10", "categories": "", "authors": ""}
    assert Client().post(manage, data).status_code == 302
    subscriber.refresh_from_db()
    assert subscriber.strictness == "strict" and subscriber.quiet_day_note
    assert subscriber.about == "I compress language models."
    data["strictness"] = "loose"
    assert Client().post(manage, data).status_code == 400


# --- The Why line ----------------------------------------------------------------------------------


def test_the_why_line_names_the_word_where_and_how_strong_in_html_and_text(batch, make_subscriber,
                                                                           django_capture_on_commit_callbacks):
    make_subscriber(topics=["unlearning"], keywords="LoRA, benchmark", strictness="broad", max_papers=50)
    send(batch, django_capture_on_commit_callbacks)
    [message] = mail.outbox
    html = message.alternatives[0][0]
    text_lines = [line for line in message.body.splitlines() if line.startswith("   Why: ")]
    assert text_lines and all(len(line) < 400 for line in text_lines)  # one short line each
    assert "   Why: Machine unlearning: “Unlearning” in title (core)" in message.body
    assert "“benchmarks” (benchmark) in abstract (passing mention)" in message.body  # as written, and as typed
    # A word beyond the abstract the email shows comes with the words around it.
    assert re.search(r"Why: “LoRA” in abstract \(passing mention\): “…[^”]*we use LoRA to iteratively finetune", message.body)
    assert "Why: Machine unlearning: “<b>Unlearning</b>” in title (core)" in html


def test_a_snippet_only_when_the_word_is_outside_the_abstract_shown():
    far = Reason("keyword", "pruning", word="pruning", field="abstract", strength="passing",
                 snippet="…we apply pruning to the search tree…")
    assert why.why_text((far,), shown="a short abstract about games") == (
        "“pruning” in abstract (passing mention): “…we apply pruning to the search tree…”")
    assert why.why_text((far,), shown="we apply pruning to the search tree") == "“pruning” in abstract (passing mention)"
    liked = Reason("like", "Diffusion Autoencoders for Few-shot Image Generation in Hyperbolic Space")
    learned = Reason("learned", "")
    assert why.why_text((liked, far)) == (
        "because you liked “Diffusion Autoencoders for Few-shot Image Generation in Hyperbolic Space” · "
        "“pruning” in abstract (passing mention)")
    assert why.why_text((learned,)) == "learned from your feedback"
    typed = Reason("keyword", "LLM", word="large language models", field="title", strength="core")
    assert why.why_text((typed, liked, far)) == "“large language models” (LLM) in title (core) · because you liked " \
                                                "“Diffusion Autoencoders for Few-shot Image Generation in Hyperbolic Space”"
    assert str(why.why_html((Reason("keyword", "<b>", word="<script>", field="title", strength="core"),))) == (
        "“<b>&lt;script&gt;</b>” (&lt;b&gt;) in title (core)")


def test_remembered_why_lines_change_with_anything_they_show():
    # Lines are remembered per process by what they show (subscribers.why, and per pair of
    # reasons and abstract in subscribers.emails): a difference in a shown part is a new line,
    # one in what is not shown (the matched terms, a third reason) is the same line.
    core = Reason("topic", "Graphs", terms=("graph",), word="graphs", field="title", strength="core")
    assert why.why_text((core,)) == "Graphs: “graphs” in title (core)"
    assert why.why_text((replace(core, strength="passing"),)) == "Graphs: “graphs” in title (passing mention)"
    assert why.why_text((replace(core, field="abstract"),)) == "Graphs: “graphs” in abstract (core)"
    assert why.why_text((replace(core, word="GNNs"),)) == "Graphs: “GNNs” in title (core)"
    assert why.why_text((replace(core, label="Networks"),)) == "Networks: “graphs” in title (core)"
    assert why.why_text((replace(core, kind="keyword", label="graph"),)) == "“graphs” (graph) in title (core)"
    assert why.why_text((replace(core, terms=("graph", "gnn")),)) == why.why_text((core,))
    third = Reason("author", "Ada Lovelace")
    assert why.why_html((core, Reason("category", "cs.LG"), third)) == why.why_html((core, Reason("category", "cs.LG")))
    assert why.why_html((core, third)) == "Graphs: “<b>graphs</b>” in title (core) &middot; by Ada Lovelace"
    # The same reason in two papers: the snippet only where the word is beyond what is shown.
    far = replace(core, field="abstract", snippet="…on graphs we…")
    assert why.why_text((far,), shown="a short abstract") == "Graphs: “graphs” in abstract (core): “…on graphs we…”"
    assert why.why_text((far,), shown="results on graphs") == "Graphs: “graphs” in abstract (core)"
    assert why.why_text((replace(far, snippet="…other words…"),), shown="x") == (
        "Graphs: “graphs” in abstract (core): “…other words…”")
    html, text = _why_lines((far,), "a short abstract")
    assert "<i>“…on graphs we…”</i>" in html and text == "   Why: Graphs: “graphs” in abstract (core): “…on graphs we…”\n"
    html, text = _why_lines((far,), "results on graphs")
    assert "…on graphs we…" not in html and text == "   Why: Graphs: “graphs” in abstract (core)\n"


def test_the_subscribe_form_takes_an_optional_about_me(batch):
    client = Client(enforce_csrf_checks=True)
    home = client.get("/").content.decode()
    assert 'name="about"' in home and "About me" in home
    data = {"email": "new@example.org", "topics": [], "keywords": "", "frequency": "daily",
            "about": "I build retrieval-augmented generation systems.",
            "csrfmiddlewaretoken": client.cookies["csrftoken"].value}
    assert client.post("/subscribe/", data).status_code == 200
    assert Subscriber.objects.get().about == "I build retrieval-augmented generation systems."
    data.update(email="other@example.org", about="x" * 1001)
    assert client.post("/subscribe/", data).status_code == 400
    assert not Subscriber.objects.filter(email="other@example.org").exists()
