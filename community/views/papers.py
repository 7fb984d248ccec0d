"""What a reader does to a paper: upvote it (on the site, or from a digest email without
signing in), take the vote back, and comment. Every action is a POST with a CSRF token and
works without JavaScript; it answers with a redirect back to where the reader was."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from subscribers.models import Delivery, Subscriber
from subscribers.tokens import read_delivery_token

from .. import comments, members, votes
from ..forms import CommentForm, ReportForm
from ..models import Comment, Vote
from ..lookup import published_paper, published_paper_by_pk
from .common import over_limit, safe_next

log = logging.getLogger(__name__)


def _sign_in_first(request, paper, what: str):
    messages.info(request, f"Sign in to {what}: we email you a link, no password needed.")
    return redirect(f"{reverse('login')}?{urlencode({'next': paper.get_absolute_url()})}")


@require_POST
def upvote(request, identifier: str):
    paper = published_paper(identifier)
    back = safe_next(request, request.POST.get("next"), paper.get_absolute_url())
    if not request.user.is_authenticated:
        return _sign_in_first(request, paper, "vote")
    limited = over_limit(request, "vote", str(request.user.pk), "VOTE_RATE_PER_PERSON", "VOTE_RATE_PER_IP")
    if limited:
        return limited
    try:
        votes.upvote(request.user, paper)
    except votes.VoteRefused as exc:
        messages.error(request, str(exc))
    return redirect(back)


@require_POST
def unvote(request, identifier: str):
    paper = published_paper(identifier)
    back = safe_next(request, request.POST.get("next"), paper.get_absolute_url())
    if not request.user.is_authenticated:
        return _sign_in_first(request, paper, "vote")
    limited = over_limit(request, "vote", str(request.user.pk), "VOTE_RATE_PER_PERSON", "VOTE_RATE_PER_IP")
    if limited:
        return limited
    votes.unvote(request.user, paper)
    return redirect(back)


@never_cache
@require_http_methods(["GET", "POST"])
def email_vote(request, token: str, paper_id: int):
    """The "Upvote" link of a digest email: the token names the email (its delivery) and its
    subscriber, so it votes only for the papers that email held, as that confirmed subscriber."""
    found = read_delivery_token(token, "upvote", max_age=settings.UPVOTE_LINK_MAX_AGE_DAYS * 86400)
    delivery = found and Delivery.objects.filter(pk=found[0], subscriber__uid=found[1]).select_related(
        "subscriber").first()
    if not delivery or paper_id not in {p.get("paper") for p in delivery.papers}:
        return render(request, "community/link_invalid.html", {"what": "upvote", "max_days": settings.UPVOTE_LINK_MAX_AGE_DAYS}, status=404)
    subscriber = delivery.subscriber
    paper = published_paper_by_pk(paper_id)
    user = members.user_for_email(subscriber.email, create=False)
    context = {"paper": paper, "email": subscriber.email,
               "voted": bool(user and Vote.objects.filter(user=user, paper=paper).exists())}
    if request.method == "GET":
        return render(request, "community/email_vote.html", context)
    if subscriber.confirmed_at is None or subscriber.status not in (Subscriber.Status.ACTIVE, Subscriber.Status.PAUSED):
        return render(request, "community/link_invalid.html", {"what": "upvote", "max_days": settings.UPVOTE_LINK_MAX_AGE_DAYS}, status=404)
    limited = over_limit(request, "vote", f"subscriber-{subscriber.pk}", "VOTE_RATE_PER_PERSON", "VOTE_RATE_PER_IP")
    if limited:
        return limited
    user = user or members.user_for_email(subscriber.email)
    try:
        votes.upvote(user, paper, via=Vote.Via.EMAIL)
    except votes.VoteRefused as exc:
        context["refused"] = str(exc)
        return render(request, "community/email_vote.html", context, status=403)
    paper.refresh_from_db(fields=["community_votes"])
    return render(request, "community/email_vote.html", {**context, "voted": True, "done": True})


@require_POST
def comment_post(request, identifier: str):
    paper = published_paper(identifier)
    back = paper.get_absolute_url() + "#discussion"
    if not request.user.is_authenticated:
        return _sign_in_first(request, paper, "comment")
    limited = over_limit(request, "comment", str(request.user.pk), "COMMENT_RATE_PER_PERSON", "COMMENT_RATE_PER_IP")
    if limited:
        return limited
    form = CommentForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors.get("body", ["Write something first."])))
        return redirect(back)
    try:
        comment = comments.post(request.user, paper, form.cleaned_data["body"])
    except comments.CommentRefused as exc:
        messages.error(request, str(exc))
        if "display name" in str(exc):
            return redirect(f"{reverse('me')}?{urlencode({'next': back})}")
        return redirect(back)
    return redirect(f"{paper.get_absolute_url()}#comment-{comment.pk}")


def _own_comment(request, pk: int) -> Comment:
    comment = get_object_or_404(Comment.objects.select_related("paper"), pk=pk)
    if not request.user.is_authenticated or comment.user_id != request.user.pk:
        raise Http404("No such comment")
    return comment


@never_cache
@require_http_methods(["GET", "POST"])
def comment_edit(request, pk: int):
    comment = _own_comment(request, pk)
    form = CommentForm(request.POST or None, initial={"body": comment.body})
    if request.method == "POST" and form.is_valid():
        try:
            comments.edit(comment, request.user, form.cleaned_data["body"])
        except comments.CommentRefused as exc:
            form.add_error("body", str(exc))
        else:
            return redirect(f"{comment.paper.get_absolute_url()}#comment-{comment.pk}")
    return render(request, "community/comment_edit.html", {"comment": comment, "form": form},
                  status=400 if request.method == "POST" else 200)


@never_cache
@require_http_methods(["GET", "POST"])
def comment_delete(request, pk: int):
    comment = _own_comment(request, pk)
    if request.method == "GET":
        return render(request, "community/comment_delete.html", {"comment": comment})
    comments.delete(comment, request.user)
    messages.success(request, "Your comment is deleted.")
    return redirect(comment.paper.get_absolute_url() + "#discussion")


@never_cache
@require_http_methods(["GET", "POST"])
def comment_report(request, pk: int):
    comment = get_object_or_404(Comment.objects.select_related("paper"), pk=pk, hidden=False)
    if not request.user.is_authenticated:
        return _sign_in_first(request, comment.paper, "report a comment")
    form = ReportForm(request.POST or None)
    if request.method == "GET" or not form.is_valid():
        return render(request, "community/comment_report.html", {"comment": comment, "form": form})
    limited = over_limit(request, "comment", str(request.user.pk), "COMMENT_RATE_PER_PERSON", "COMMENT_RATE_PER_IP")
    if limited:
        return limited
    try:
        comments.report(comment, request.user, form.cleaned_data["reason"])
    except comments.CommentRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Thank you: a curator will look at it.")
    return redirect(f"{comment.paper.get_absolute_url()}#comment-{comment.pk}")
