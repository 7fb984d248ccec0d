"""Learning from feedback: what a subscriber told us about papers becomes the labels of a
per-subscriber linear model (the engine's digest.matching.train), stored on a Learning row
and used by the email, the private feed and the preview through Subscriber.interests().

Labels, one per paper:
- +1: a liked paper (listed, "more like this", an upvote on the site): Subscriber.liked_papers
- -1: "fewer like this" (Subscriber.disliked_papers) and "not interested" (a Reaction)
- +0.3: a paper opened from a digest (a click), when nothing explicit was said about it
Papers of recent days the person said nothing about are weak negatives (the engine's
`background`). Below the engine's MIN_LABELS the model is not used: explicit interests
alone decide (the preference centre says how many labels are still needed).

Every change of labels sets Learning.changed_at and queues a retrain (debounced: several
clicks in a row train once); beat retrains, nightly, anyone whose labels changed since."""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from digest.corpus import current_stats
from digest.matching import PaperDoc, train
from digest.matching.learned import MIN_LABELS, MIN_POSITIVES
from digest.models import Paper
from digest.selection import published_entries
from digest.text import stem, words
from paperpost.celery import app

from .models import Learning, Reaction, Subscriber

log = logging.getLogger(__name__)

# Queued by name: subscribers.tasks imports this module.
RETRAIN_TASK = "subscribers.tasks.retrain"
# The latest published papers are the weak negatives of a model (the engine samples 400).
BACKGROUND_PAPERS = 1500
SHOWN_TERMS = 12

Kind = Reaction.Kind
# How the preference centre says where a label came from.
SAID = {Kind.LIKED: "you listed it", Kind.MORE: "more like this", Kind.UPVOTED: "you upvoted it",
        Kind.CLICKED: "you opened it", Kind.FEWER: "fewer like this", Kind.NOT_INTERESTED: "not interested"}


# --- Recording what people say ---------------------------------------------------------------------


def record(subscriber: Subscriber, paper: Paper, kind: str) -> None:
    """Record a reaction to a paper. A positive one (liked, more, upvoted) undoes a negative
    one and the other way round; liked and "fewer like this" papers are also the engine's
    liked and disliked papers. The model is retrained soon after."""
    if kind not in Kind.values:
        raise ValueError(f"unknown reaction {kind!r}")
    with transaction.atomic():
        if kind in Reaction.POSITIVE:
            Reaction.objects.filter(subscriber=subscriber, paper=paper, kind__in=Reaction.NEGATIVE).delete()
            subscriber.disliked_papers.remove(paper)
            subscriber.liked_papers.add(paper)
        elif kind in Reaction.NEGATIVE:
            Reaction.objects.filter(subscriber=subscriber, paper=paper, kind__in=Reaction.POSITIVE).delete()
            subscriber.liked_papers.remove(paper)
            if kind == Kind.FEWER:
                subscriber.disliked_papers.add(paper)
        Reaction.objects.get_or_create(subscriber=subscriber, paper=paper, kind=kind)
        labels_changed(subscriber.pk)
    log.info("subscriber=%s reaction %s paper=%s", subscriber.pk, kind, paper.pk)


def record_click(subscriber_id: int, paper_id: int) -> bool:
    """The hook for click tracking (delivery v2's /r/<token>/): a paper opened from a digest
    is a weak "more like this". True if it was new."""
    with transaction.atomic():
        _, created = Reaction.objects.get_or_create(subscriber_id=subscriber_id, paper_id=paper_id, kind=Kind.CLICKED)
        if created:
            labels_changed(subscriber_id)
    return created


def take_back(subscriber: Subscriber, paper: Paper, kinds=None) -> None:
    """Forget reactions to a paper (all of them, or those of `kinds`): an unvote, or the
    person removing a liked or "fewer like" paper in the preference centre."""
    kinds = list(kinds or Kind.values)
    with transaction.atomic():
        Reaction.objects.filter(subscriber=subscriber, paper=paper, kind__in=kinds).delete()
        left = set(Reaction.objects.filter(subscriber=subscriber, paper=paper).values_list("kind", flat=True))
        # A paper stays liked while another positive reaction holds it (upvoted, then
        # the upvote taken back, but also marked "more like this").
        if set(kinds) & set(Reaction.POSITIVE) and not left & set(Reaction.POSITIVE):
            subscriber.liked_papers.remove(paper)
        if Kind.FEWER in kinds:
            subscriber.disliked_papers.remove(paper)
        labels_changed(subscriber.pk)


def forget_term(subscriber: Subscriber, term: str) -> None:
    """The person removed a learned word: it goes from the stored model now (the preference
    centre and the next email stop using it at once) and is left out of every retrain."""
    term = term.strip().lower()  # the stem as the preference centre shows it
    with transaction.atomic():
        learning, _ = Learning.objects.select_for_update().get_or_create(subscriber=subscriber)
        if term not in learning.forgotten_terms:
            learning.forgotten_terms = [*learning.forgotten_terms, term]
        if learning.model:
            learning.model = {**learning.model, "terms": [tw for tw in learning.model["terms"] if tw[0] != term]}
        learning.changed_at = timezone.now()
        learning.save()
        Subscriber.objects.filter(pk=subscriber.pk).update(updated_at=timezone.now())
        _queue_retrain(subscriber.pk)


def labels_changed(subscriber_id: int) -> None:
    Learning.objects.update_or_create(subscriber_id=subscriber_id, defaults={"changed_at": timezone.now()})
    _queue_retrain(subscriber_id)


def _queue_retrain(subscriber_id: int) -> None:
    # In-process (embedded mode) the task runs at once; with a broker it waits a little, so
    # that a burst of feedback trains once (the task skips while labels are still changing).
    delay = 0 if app.conf.task_always_eager else settings.LEARNING_RETRAIN_DELAY_SECONDS
    task = app.tasks[RETRAIN_TASK]
    transaction.on_commit(lambda: task.apply_async((subscriber_id, delay), countdown=delay))


# --- Training ----------------------------------------------------------------------------------------


def labels_of(subscriber: Subscriber) -> dict[int, float]:
    """paper id -> training weight."""
    labels: dict[int, float] = {}
    reactions = Reaction.objects.filter(subscriber=subscriber).values_list("paper_id", "kind")
    for paper_id, kind in reactions:
        if kind == Kind.CLICKED:
            labels.setdefault(paper_id, Reaction.WEIGHT[kind])
        elif kind == Kind.NOT_INTERESTED:
            labels[paper_id] = Reaction.WEIGHT[kind]
    for paper_id in subscriber.disliked_papers.values_list("pk", flat=True):
        labels[paper_id] = -1.0
    for paper_id in subscriber.liked_papers.values_list("pk", flat=True):
        labels[paper_id] = 1.0
    return labels


def _doc(paper: Paper) -> PaperDoc:
    return PaperDoc(id=paper.pk, title=paper.title, abstract=paper.abstract or "")


def background_docs(exclude: set[int]) -> list[PaperDoc]:
    """The latest published papers: the weak negatives every model is trained against (the
    newest BACKGROUND_PAPERS, however old: a quiet list still has a background)."""
    ids = list(published_entries().order_by("-batch__date", "position")
               .values_list("paper_id", flat=True)[:BACKGROUND_PAPERS])
    papers = Paper.objects.filter(pk__in=ids).exclude(pk__in=exclude).only("pk", "title", "abstract")
    return [_doc(p) for p in papers]


def retrain(subscriber_id: int) -> Learning | None:
    """Train the subscriber's model from their labels and store it (None below the engine's
    minimum: the stored model is cleared and explicit interests alone decide)."""
    subscriber = Subscriber.objects.filter(pk=subscriber_id).first()
    if subscriber is None:
        return None
    started = timezone.now()  # a label arriving during training makes the row due again
    learning, _ = Learning.objects.get_or_create(subscriber=subscriber)
    labels = labels_of(subscriber)
    papers = Paper.objects.filter(pk__in=labels).only("pk", "title", "abstract")
    examples = [(_doc(p), labels[p.pk]) for p in papers]
    model = None
    if len(examples) >= MIN_LABELS:
        model = train(examples, current_stats(), background=background_docs(set(labels)),
                      exclude=frozenset(learning.forgotten_terms))
    Learning.objects.filter(pk=learning.pk).update(model=model.to_dict() if model else None, labels=len(examples),
                                                   trained_at=started)
    # The private feed's cache key follows the subscriber's row.
    Subscriber.objects.filter(pk=subscriber_id).update(updated_at=timezone.now())
    log.info("subscriber=%s model retrained on %s labels: %s", subscriber_id, len(examples),
             "usable" if model and model.usable else "not used")
    learning.refresh_from_db()
    return learning


def retrain_if_settled(subscriber_id: int, settle_seconds: float = 0) -> bool:
    """The debounced retrain: only when labels changed since the last training and have not
    changed for `settle_seconds` (a later queued retrain covers a newer change)."""
    learning = Learning.objects.filter(pk=subscriber_id).first()
    if learning is None or not learning.due:
        return False
    if settle_seconds and learning.changed_at > timezone.now() - dt.timedelta(seconds=settle_seconds * 0.9):
        return False
    retrain(subscriber_id)
    return True


def retrain_due() -> int:
    """Beat, nightly: retrain everyone whose labels changed since their last training."""
    done = 0
    for learning in Learning.objects.filter(changed_at__isnull=False).only("pk", "changed_at", "trained_at").iterator():
        if learning.due:
            retrain(learning.pk)
            done += 1
    return done


# --- What the preference centre shows -----------------------------------------------------------------


@dataclass
class LearnedTerm:
    stem: str
    word: str  # the stem as the papers write it
    weight: float


@dataclass
class Learned:
    """What was learned, for the person to see and correct."""

    terms: list[LearnedTerm] = field(default_factory=list)
    liked: list[tuple[Paper, str]] = field(default_factory=list)  # (paper, how: "upvoted on the site", ...)
    fewer: list[tuple[Paper, str]] = field(default_factory=list)
    clicked: int = 0
    labels: int = 0
    positives: int = 0
    in_use: bool = False
    pending: bool = False  # labels changed since the last training
    trained_at: dt.datetime | None = None
    forgotten: list[str] = field(default_factory=list)

    @property
    def needed(self) -> int:
        """Labels still needed before the model is used."""
        return max(0, MIN_LABELS - self.labels, MIN_POSITIVES - self.positives)


def learned(subscriber: Subscriber) -> Learned:
    out = Learned()
    how = {}
    for paper_id, kind in Reaction.objects.filter(subscriber=subscriber).values_list("paper_id", "kind"):
        if kind == Kind.CLICKED:
            out.clicked += 1
        else:
            how.setdefault(paper_id, SAID[kind])
    out.liked = [(p, how.get(p.pk, SAID[Kind.MORE])) for p in subscriber.liked_papers.order_by("title")]
    fewer = {p.pk: p for p in subscriber.disliked_papers.all()}
    nots = Reaction.objects.filter(subscriber=subscriber, kind=Kind.NOT_INTERESTED).select_related("paper")
    fewer.update({r.paper_id: r.paper for r in nots})
    out.fewer = [(p, how.get(p.pk, SAID[Kind.FEWER])) for p in sorted(fewer.values(), key=lambda p: p.title)]
    labels = labels_of(subscriber)
    out.labels = len(labels)
    out.positives = sum(1 for w in labels.values() if w > 0)
    row = Learning.objects.filter(pk=subscriber.pk).first()
    if row is not None:
        out.pending, out.trained_at, out.forgotten = row.due, row.trained_at, list(row.forgotten_terms)
        model = row.engine_model()
        if model is not None and model.usable:
            out.in_use = True
            top = model.top_terms(SHOWN_TERMS)
            shown = surface_words([t for t, _ in top], [p for p, _ in out.liked])
            out.terms = [LearnedTerm(t, shown.get(t, t), w) for t, w in top]
    return out


def surface_words(stems: list[str], papers: list[Paper]) -> dict[str, str]:
    """Each stem as the papers most often write it ("prun" -> "pruning")."""
    wanted = set(stems)
    seen: dict[str, Counter] = {s: Counter() for s in stems}
    for paper in papers:
        for word in words(f"{paper.title} {paper.abstract}"):
            s = stem(word)
            if s in wanted:
                seen[s][word] += 1
    return {s: c.most_common(1)[0][0] for s, c in seen.items() if c}
