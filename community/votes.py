"""Upvotes. One per person and paper (a unique constraint, so a second POST, a double click
or two racing requests change nothing); the paper's count moves in the same transaction as
the vote row. A vote is also "more like this" for the voter's own digest, when the address
has a subscription."""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction
from django.db.models import F

from digest.models import Paper
from digest.pagecache import bump_signal_version
from subscribers import lifecycle

from .counts import recount_votes
from .members import member_for, subscription_of
from .models import Vote

log = logging.getLogger(__name__)


class VoteRefused(Exception):
    """The person may not vote; the message says why, for them."""


def upvote(user, paper: Paper, via: str = Vote.Via.WEB) -> bool:
    """Add the person's vote; True if this call added it, False if it was already there."""
    if member_for(user).banned:
        raise VoteRefused("Your account can no longer vote.")
    with transaction.atomic():
        try:
            with transaction.atomic():  # a savepoint: the duplicate's error stays inside
                vote = Vote.objects.create(user=user, paper=paper, via=via)
        except IntegrityError:
            return False
        Paper.objects.filter(pk=paper.pk).update(community_votes=F("community_votes") + 1)
        if _like(user, paper):
            Vote.objects.filter(pk=vote.pk).update(liked=True)
        transaction.on_commit(bump_signal_version)
    log.info("vote user=%s paper=%s via=%s", user.pk, paper.pk, via)
    return True


def unvote(user, paper: Paper) -> bool:
    """Remove the person's vote; True if this call removed it."""
    banned = member_for(user).banned
    with transaction.atomic():
        vote = Vote.objects.filter(user=user, paper=paper).first()
        # The delete's row count decides, so two racing removals take one vote off, not two.
        if vote is None or not Vote.objects.filter(pk=vote.pk).delete()[0]:
            return False
        if not banned:  # a banned person's vote was not in the count
            Paper.objects.filter(pk=paper.pk, community_votes__gt=0).update(community_votes=F("community_votes") - 1)
        if vote.liked:
            subscription = subscription_of(user)
            if subscription is not None:
                lifecycle.withdraw_feedback(subscription, paper, "upvote")
        transaction.on_commit(bump_signal_version)
    log.info("unvote user=%s paper=%s", user.pk, paper.pk)
    return True


def _like(user, paper: Paper) -> bool:
    """Mark the paper "more like this" in the voter's subscription; True if the vote added it
    (a paper they had already marked stays marked when the vote goes)."""
    subscription = subscription_of(user)
    if subscription is None or subscription.liked_papers.filter(pk=paper.pk).exists():
        return False
    # Recorded as an upvote: a label the subscriber's learned model trains on.
    lifecycle.apply_feedback(subscription, "upvote", paper)
    return True


def remove_votes(votes) -> int:
    """A curator removes votes (a queryset); the papers' counts are recomputed."""
    with transaction.atomic():
        paper_ids = list(votes.values_list("paper_id", flat=True))
        removed = votes.delete()[0]
        recount_votes(paper_ids)
    log.info("a curator removed %s votes", removed)
    return removed


def voted_ids(user, paper_ids=None) -> set[int]:
    if not user.is_authenticated:
        return set()
    votes = Vote.objects.filter(user=user)
    if paper_ids is not None:
        votes = votes.filter(paper_id__in=list(paper_ids))
    return set(votes.values_list("paper_id", flat=True))
