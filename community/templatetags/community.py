"""Template pieces the site's pages use to show the community: the vote button with its
counts on every list and paper page, and the discussion under a paper.

Cached pages are rendered without a request (digest's page cache, one copy for every
anonymous visitor): the pieces then show the plain "Upvote" button, with the cached page's
CSRF hole. Pages rendered for a signed-in person show whether they voted."""

from __future__ import annotations

from django import template
from django.conf import settings
from django.db.models import Q
from django.utils.html import format_html

from .. import comments as comment_rules
from ..forms import CommentForm
from ..members import member_for
from ..models import Comment, Vote

register = template.Library()


def voted_set(request, paper_ids=None) -> set[int]:
    """The ids of the papers the signed-in person voted for (once per request)."""
    if request is None or not getattr(request, "user", None) or not request.user.is_authenticated:
        return set()
    cached = getattr(request, "_community_voted", None)
    if cached is None:
        cached = request._community_voted = set(
            Vote.objects.filter(user=request.user).values_list("paper_id", flat=True))
    return cached if paper_ids is None else cached & set(paper_ids)


@register.inclusion_tag("community/_vote.html", takes_context=True)
def vote_widget(context, paper, in_list=False):
    """The ▲ button with the community's count, the source's count and the comment count. In
    a list (inside {% votes_form %}) it is a bare button posting to its paper's URL, so that a
    page of 100 papers carries one form and one CSRF token, not a hundred."""
    return {"paper": paper, "voted": paper.pk in voted_set(context.get("request")), "in_list": in_list,
            "csrf_token": context.get("csrf_token")}


@register.simple_tag(takes_context=True)
def votes_form(context):
    """Opens the one form around a list of papers (the template closes it after the list)."""
    hole = context.get("csrf_hole")
    token = hole if hole else context.get("csrf_token")
    return format_html('<form method="post" class="votes"><input type="hidden" name="csrfmiddlewaretoken" value="{}">',
                       token or "")


@register.inclusion_tag("community/_discussion.html", takes_context=True)
def discussion(context, paper):
    request = context.get("request")
    user = request.user if request else None
    signed_in = bool(user and user.is_authenticated)
    shown = Comment.objects.filter(paper=paper).select_related("user__member")
    if signed_in:
        # Authors still see their own hidden comments, marked as hidden.
        shown = shown.filter(Q(hidden=False) | Q(user=user))
    else:
        shown = shown.filter(hidden=False)
    return {
        "paper": paper,
        "comments": list(shown),
        "user": user,
        "signed_in": signed_in,
        "member": member_for(user) if signed_in else None,
        "form": CommentForm(),
        "max_chars": settings.COMMENT_MAX_CHARS,
    }


@register.filter
def comment_html(body: str):
    return comment_rules.render(body)
