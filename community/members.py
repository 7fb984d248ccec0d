"""People: the reader account behind an address, display names, trust and bans, and what a
person can take away (export) or erase (delete). Views, the admin and the email-vote link
call these functions; the rules live here."""

from __future__ import annotations

import hashlib
import logging

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from digest.models import BatchEntry
from subscribers import lifecycle
from subscribers.models import Subscriber, normalize_email

from .counts import recount_comments, recount_votes
from .models import Comment, CommentReport, Member, Submission, Vote
from .names import clean_display_name

log = logging.getLogger(__name__)
User = get_user_model()


def username_for(email: str) -> str:
    # Django usernames hold 150 characters; addresses may have 254.
    return email if len(email) <= 150 else "reader-" + hashlib.sha256(email.encode()).hexdigest()[:40]


def user_for_email(email: str, create: bool = True):
    """The one account of an address: a curator's own if a staff account has it, else the
    reader account (created, without a usable password, when `create`)."""
    email = normalize_email(email)
    found = User.objects.filter(email__iexact=email).order_by("-is_staff", "pk").first()
    if found is not None or not create:
        return found
    # get_or_create absorbs the race of two first sign-ins (the username is unique).
    user, created = User.objects.get_or_create(username=username_for(email), defaults={"email": email})
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
        log.info("member user=%s created", user.pk)
    return user


def member_for(user) -> Member:
    try:
        return user.member  # cached on the user object after the first access
    except Member.DoesNotExist:
        member, _ = Member.objects.get_or_create(user=user)
        user.member = member
        return member


def subscription_of(user) -> Subscriber | None:
    """The subscription of the same address, if there is one: the same person."""
    if not user.email:
        return None
    return Subscriber.objects.filter(email__iexact=normalize_email(user.email)).first()


def set_display_name(member: Member, value: str) -> str:
    """Check and store a display name; the names on the member's submitted papers follow."""
    name = clean_display_name(value)
    taken = Member.objects.filter(display_name__iexact=name).exclude(pk=member.pk).exists()
    if taken:
        raise ValidationError("Someone already uses that name; pick another.")
    old = member.display_name
    try:
        with transaction.atomic():
            member.display_name = name
            member.save(update_fields=["display_name"])
            if old:
                rename_submitted(member.user_id, old, name)
    except IntegrityError:  # the same name taken at the same moment
        member.display_name = old
        raise ValidationError("Someone already uses that name; pick another.") from None
    return name


def rename_submitted(user_id: int, old: str, new: str) -> None:
    """The lists show the new name beside the papers the person submitted."""
    if not old:
        return
    approved = Submission.objects.filter(user_id=user_id, status=Submission.Status.APPROVED)
    for batch_id, paper_id in approved.values_list("batch_id", "paper_id"):
        BatchEntry.objects.filter(batch_id=batch_id, paper_id=paper_id, submitted_by=old).update(submitted_by=new)


def ban(member: Member, reason: str = "") -> None:
    """Stop a person's votes counting and refuse their new votes, submissions and comments."""
    with transaction.atomic():
        Member.objects.filter(pk=member.pk).update(banned=True, banned_at=timezone.now(), ban_reason=reason[:300])
        recount_votes(Vote.objects.filter(user_id=member.user_id).values_list("paper_id", flat=True))
    member.refresh_from_db()
    log.info("member=%s banned: %s", member.pk, reason)


def unban(member: Member) -> None:
    with transaction.atomic():
        Member.objects.filter(pk=member.pk).update(banned=False, banned_at=None, ban_reason="")
        recount_votes(Vote.objects.filter(user_id=member.user_id).values_list("paper_id", flat=True))
    member.refresh_from_db()
    log.info("member=%s unbanned", member.pk)


def export_member(user) -> dict:
    """Everything stored about the person (GDPR art. 15 and 20): account, votes, submissions,
    comments and reports, and their subscription if the address has one."""

    def iso(value):
        return value.isoformat() if value else None

    member = member_for(user)
    subscription = subscription_of(user)
    subscription_data = lifecycle.export_data(subscription) if subscription else None
    if subscription_data:
        subscription_data.pop("community", None)  # the same data, once is enough
    return {
        "account": {
            "email": user.email,
            "display_name": member.display_name,
            "joined_at": iso(member.created_at),
            "last_sign_in": iso(user.last_login),
            "trusted": member.trusted,
            "banned": member.banned,
        },
        "community": community_data(user),
        "subscription": subscription_data,
    }


def community_data(user) -> dict:
    """The person's votes, submissions, comments and reports (also part of a subscription's export)."""

    def iso(value):
        return value.isoformat() if value else None

    return {
        "votes": [{"paper": v.paper.identifier, "title": v.paper.title, "via": v.via, "at": iso(v.created_at)}
                  for v in Vote.objects.filter(user=user).select_related("paper").order_by("created_at")],
        "submissions": [{"paper": s.paper.identifier, "title": s.paper.title, "batch": s.batch.date.isoformat(),
                         "status": s.status, "reason": s.reason, "at": iso(s.created_at)}
                        for s in Submission.objects.filter(user=user).select_related("paper", "batch")
                        .order_by("created_at")],
        "comments": [{"paper": c.paper.identifier, "body": c.body, "at": iso(c.created_at),
                      "edited_at": iso(c.edited_at), "hidden": c.hidden}
                     for c in Comment.objects.filter(user=user).select_related("paper").order_by("created_at")],
        "reports": [{"comment": r.comment_id, "reason": r.reason, "at": iso(r.created_at)}
                    for r in CommentReport.objects.filter(user=user).order_by("created_at")],
    }


def delete_member(user, with_subscription: bool = True) -> None:
    """Erase the person's votes, submissions, comments, reports and account (a curator's
    account itself stays), then, with `with_subscription`, their subscription too; the
    counts on the papers they touched are recounted."""
    subscription = subscription_of(user) if with_subscription else None
    with transaction.atomic():
        voted = list(Vote.objects.filter(user=user).values_list("paper_id", flat=True))
        commented = list(Comment.objects.filter(user=user).values_list("paper_id", flat=True))
        for batch_id, paper_id in Submission.objects.filter(
                user=user, status=Submission.Status.APPROVED).values_list("batch_id", "paper_id"):
            # The paper stays in the list (a curator accepted it); the name goes.
            BatchEntry.objects.filter(batch_id=batch_id, paper_id=paper_id).update(submitted_by="")
        if user.is_staff:
            for model in (Vote, Submission, Comment, CommentReport, Member):
                model.objects.filter(user=user).delete()
        else:
            user.delete()  # votes, submissions, comments, reports and the member go with it
        recount_votes(voted)
        recount_comments(commented)
    if subscription is not None:
        lifecycle.delete_subscriber(subscription)
    log.info("a member deleted their data")
