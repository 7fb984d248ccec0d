"""Sign in by an emailed link, sign out, and the member's own page (display name, votes,
submissions, comments, export, delete)."""

from __future__ import annotations

import logging
from functools import partial
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from paperpost.ratelimit import client_ip
from subscribers.tokens import make_token

from .. import members, signin, tasks
from ..forms import DisplayNameForm, SignInForm
from ..models import Comment, Submission, Vote
from .common import over_limit, safe_next

log = logging.getLogger(__name__)


@never_cache
@require_http_methods(["GET", "POST"])
def login_form(request):
    next_url = safe_next(request, request.POST.get("next") or request.GET.get("next"), "")
    if request.method == "GET":
        return render(request, "community/login.html", {"form": SignInForm(), "next": next_url})
    limited = over_limit(request, "sign-in", None, None, "SIGN_IN_RATE_PER_IP")
    if limited:
        return limited
    form = SignInForm(request.POST)
    if not form.is_valid():
        return render(request, "community/login.html", {"form": form, "next": next_url}, status=400)
    if form.cleaned_data.get("website"):
        log.info("sign-in: honeypot filled; ignored")
    else:
        req = signin.record_request(form.cleaned_data["email"], client_ip(request) or None, next_url)
        # robust: a broker that is down (or an SMTP error in embedded mode, where the task runs
        # here) is logged and changes nothing in the answer; the request row stays unsent.
        transaction.on_commit(partial(tasks.send_sign_in_link.delay, req.pk), robust=True)
    # The same page whatever the address: nobody learns who has an account.
    return render(request, "community/check_inbox.html", {"minutes": settings.SIGN_IN_MAX_AGE_MINUTES})


@never_cache
@require_http_methods(["GET", "POST"])
def login_link(request, token: str):
    req = signin.read_link_token(token)
    if req is None:
        return render(request, "community/link_invalid.html", status=404)
    if request.method == "GET":
        # Mail scanners follow links: GET only shows the button.
        return render(request, "community/login_confirm.html", {"email": req.email})
    user = signin.use_link(req)
    if user is None:
        return render(request, "community/link_invalid.html", status=404)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    log.info("user=%s signed in by link", user.pk)
    if not members.member_for(user).display_name:
        messages.info(request, "You are signed in. Choose the name others will see beside your submissions "
                               "and comments.")
        return redirect(reverse("me") + (f"?{urlencode({'next': req.next_url})}" if req.next_url else ""))
    return redirect(safe_next(request, req.next_url, reverse("me")))


@require_POST
def logout_view(request):
    logout(request)
    return redirect("home")


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def me(request):
    member = members.member_for(request.user)
    next_url = safe_next(request, request.POST.get("next") or request.GET.get("next"), "")
    form = DisplayNameForm(initial={"display_name": member.display_name})
    status = 200
    if request.method == "POST":
        form = DisplayNameForm(request.POST)
        if form.is_valid():
            try:
                members.set_display_name(member, form.cleaned_data["display_name"])
            except ValidationError as exc:
                form.add_error("display_name", exc)
            else:
                messages.success(request, f"You are now “{member.display_name}”.")
                return redirect(next_url or "me")
        status = 400
    subscription = members.subscription_of(request.user)
    return render(request, "community/me.html", {
        "member": member, "form": form, "next": next_url,
        "votes": Vote.objects.filter(user=request.user).select_related("paper")[:200],
        "submissions": Submission.objects.filter(user=request.user).select_related("paper", "batch")[:100],
        "comments": Comment.objects.filter(user=request.user).select_related("paper").order_by("-created_at")[:100],
        "manage_token": make_token(subscription, "manage") if subscription else None,
    }, status=status)


@never_cache
@login_required
def export(request):
    response = JsonResponse(members.export_member(request.user), json_dumps_params={"indent": 2})
    response["Content-Disposition"] = 'attachment; filename="paperpost-my-account.json"'
    return response


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def delete(request):
    subscription = members.subscription_of(request.user)
    if request.method == "GET":
        return render(request, "community/delete.html", {"subscription": subscription})
    if request.POST.get("confirm") != "yes":
        raise Http404
    user = request.user
    logout(request)
    members.delete_member(user, with_subscription=True)
    return render(request, "community/deleted.html")
