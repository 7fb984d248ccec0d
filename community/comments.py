"""The discussion under each paper: plain-text comments, edited or deleted by their author,
hidden by curators, reported by signed-in readers. Bodies are stored as typed (control and
direction-changing characters removed) and escaped when shown; links are made clickable with
rel="nofollow ugc" so that spam earns no ranking."""

from __future__ import annotations

import logging
import re

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.html import urlize
from django.utils.safestring import SafeString, mark_safe

from digest.models import Paper

from .counts import recount_comments
from .members import member_for
from .models import Comment, CommentReport

log = logging.getLogger(__name__)

# C0/C1 controls except tab and newline; bidi embeddings, overrides and isolates; zero-width
# characters and the BOM (they let a comment show as something other than what it is).
_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")


class CommentRefused(Exception):
    """The comment breaks a rule; the message says which, for the person."""


def clean_body(text: str) -> str:
    text = _UNSAFE.sub("", (text or "").replace("\r\n", "\n").replace("\r", "\n"))
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    if not text:
        raise CommentRefused("Write something first.")
    if len(text) > settings.COMMENT_MAX_CHARS:
        raise CommentRefused(f"Keep it under {settings.COMMENT_MAX_CHARS:,} characters "
                             f"(this one has {len(text):,}).")
    return text


def _may_write(user) -> None:
    member = member_for(user)
    if member.banned:
        raise CommentRefused("Your account can no longer comment.")
    if not member.display_name:
        raise CommentRefused("Choose a display name first: it is shown beside your comments.")


def post(user, paper: Paper, body: str) -> Comment:
    _may_write(user)
    with transaction.atomic():
        comment = Comment.objects.create(paper=paper, user=user, body=clean_body(body))
        recount_comments([paper.pk])
    log.info("comment=%s user=%s paper=%s", comment.pk, user.pk, paper.pk)
    return comment


def edit(comment: Comment, user, body: str) -> Comment:
    if comment.user_id != user.pk:
        raise CommentRefused("Only its author can edit a comment.")
    _may_write(user)
    comment.body = clean_body(body)
    comment.edited_at = timezone.now()
    comment.save(update_fields=["body", "edited_at"])
    return comment


def delete(comment: Comment, user) -> None:
    if comment.user_id != user.pk and not user.is_staff:
        raise CommentRefused("Only its author can delete a comment.")
    with transaction.atomic():
        paper_id = comment.paper_id
        comment.delete()
        recount_comments([paper_id])
    log.info("comment deleted by user=%s", user.pk)


def hide(comments, reason: str = "") -> int:
    """Curators hide comments (a queryset); they stay stored and their authors still see them."""
    with transaction.atomic():
        ids = list(comments.values_list("paper_id", flat=True))
        changed = comments.filter(hidden=False).update(hidden=True, hidden_reason=reason[:300],
                                                       hidden_at=timezone.now())
        recount_comments(ids)
    return changed


def unhide(comments) -> int:
    with transaction.atomic():
        ids = list(comments.values_list("paper_id", flat=True))
        changed = comments.filter(hidden=True).update(hidden=False, hidden_reason="", hidden_at=None)
        recount_comments(ids)
    return changed


def report(comment: Comment, user, reason: str = "") -> bool:
    """True if this is the person's first report of the comment."""
    if comment.user_id == user.pk:
        raise CommentRefused("That is your own comment: edit or delete it instead.")
    try:
        with transaction.atomic():
            CommentReport.objects.create(comment=comment, user=user, reason=" ".join(reason.split())[:300])
    except IntegrityError:
        return False
    log.info("comment=%s reported by user=%s", comment.pk, user.pk)
    return True


def render(body: str) -> SafeString:
    """Escaped text with its links clickable. urlize escapes the text itself, so the only
    rel="nofollow" attributes in its output are the ones it wrote."""
    html = urlize(body, trim_url_limit=60, nofollow=True, autoescape=True)
    return mark_safe(html.replace('rel="nofollow"', 'rel="nofollow ugc noopener"'))
