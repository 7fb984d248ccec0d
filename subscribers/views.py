"""Confirm, preference centre, address change, export, delete, unsubscribe, feedback, the
personal edition page: the pages behind the signed links in emails. Views are thin: the
rules live in subscribers.lifecycle. (The subscribe form's POST is the site's: web.views.)"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse, HttpResponseRedirect, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from digest.corpus import unseen_categories
from digest.matching.terms import split_list
from digest.models import Batch, Paper, Topic
from digest.selection import topic_tags

from . import clicks, learning, lifecycle, likes
from .forms import EmailChangeForm, LikesForm, PreferencesForm
from .models import Edition, Feedback
from .preview import personal_content
from .tokens import make_token, subscriber_for

log = logging.getLogger(__name__)


def _not_found():
    # One answer for unknown, invalid, expired and foreign tokens alike.
    raise Http404("This link is not valid.")


def _subscriber(token: str, purpose: str, **kwargs):
    """The subscriber a link's token names, or the one 404 for every bad token."""
    return subscriber_for(token, purpose, **kwargs) or _not_found()


@never_cache
@require_http_methods(["GET", "POST"])
def confirm(request, token: str):
    subscriber = _subscriber(token, "confirm", max_age=settings.CONFIRM_MAX_AGE_DAYS * 86400)
    if request.method == "GET":
        # Mail scanners and link prefetchers follow links: GET only asks.
        return render(request, "subscribers/confirm.html", {"subscriber": subscriber})
    if subscriber.status not in (subscriber.Status.PENDING, subscriber.Status.ACTIVE):
        _not_found()
    lifecycle.confirm(subscriber)
    return render(request, "subscribers/confirmed.html", {
        "subscriber": subscriber, "manage_token": make_token(subscriber, "manage"),
    })


def _preview(subscriber):
    batch = Batch.latest_published()
    if batch is None:
        return None
    content = personal_content(subscriber, batch.date, batch.date)
    matches = content.match(subscriber.interests())
    cap = subscriber.max_papers
    return {
        "batch": batch,
        "papers": [(content.papers[m.paper_id], m) for m in matches[:cap]],
        "more": max(0, len(matches) - cap),
    }


@never_cache
@require_http_methods(["GET", "POST"])
def manage(request, token: str):
    subscriber = _subscriber(token, "manage")
    if request.method == "POST":
        form = PreferencesForm(request.POST, instance=subscriber)
        if form.is_valid():
            form.save()
            messages.success(request, "Your preferences are saved. The preview below uses them.")
            _warn_unseen_categories(request, subscriber)
            return redirect("manage", token=token)
        status = 400
    else:
        form = PreferencesForm(instance=subscriber)
        status = 200
    return _manage_page(request, subscriber, token, form=form, status=status)


def _warn_unseen_categories(request, subscriber) -> None:
    # Kept as typed (a quiet category is a fair wish), but said: a category that matched
    # nothing for weeks is most often a typo or one the site's sources do not list.
    unseen = unseen_categories(split_list(subscriber.categories))
    if unseen:
        messages.warning(request, f"No paper of the last {settings.RANKING_WINDOW_DAYS} days carries "
                                  f"{', '.join(unseen)}: check the spelling, or whether the site's sources list "
                                  f"{'it' if len(unseen) == 1 else 'them'}. Kept as you typed.")


def _manage_page(request, subscriber, token, form=None, likes_form=None, status=200):
    subscriber.refresh_from_db()
    return render(request, "subscribers/manage.html", {
        "subscriber": subscriber,
        "form": form or PreferencesForm(instance=subscriber),
        "likes_form": likes_form or LikesForm(),
        "like_requests": subscriber.like_requests.all()[:3],
        "learned": learning.learned(subscriber),
        "email_form": EmailChangeForm(),
        "token": token,
        "unsubscribe_token": make_token(subscriber, "unsubscribe"),
        "feed_token": make_token(subscriber, "feed"),
        "preview": _preview(subscriber),
    }, status=status)


@never_cache
@require_POST
def add_likes(request, token: str):
    """Papers the person likes, pasted or uploaded (a BibTeX or RIS export)."""
    subscriber = _subscriber(token, "manage")
    form = LikesForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            outcome = likes.add_liked(subscriber, form.text())
        except likes.LikesRefused as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, outcome.message())
            return redirect(reverse("manage", args=[token]) + "#liked")
    return _manage_page(request, subscriber, token, likes_form=form, status=400)


@never_cache
@require_POST
def forget(request, token: str):
    """Remove something learned: a word (term=) or a liked or "fewer like" paper (paper=)."""
    subscriber = _subscriber(token, "manage")
    term = request.POST.get("term", "").strip()
    if term:
        learning.forget_term(subscriber, term[:100])
        messages.success(request, f"Forgotten: “{request.POST.get('word', term)[:100]}”. It will not be learned again.")
    else:
        paper = Paper.objects.filter(pk=_int(request.POST.get("paper"))).first() or _not_found()
        lifecycle.withdraw_feedback(subscriber, paper)
        messages.success(request, f"Removed: “{paper.title[:100]}”.")
    return redirect(reverse("manage", args=[token]) + "#learned")


@never_cache
@require_POST
def react(request, token: str):
    """"More like this", "fewer like this" and "not interested" from the preference centre's
    preview and the personal edition page (a signed-in form, no emailed link needed)."""
    subscriber = _subscriber(token, "manage")
    action = request.POST.get("action", "")
    if action not in (Feedback.MORE, Feedback.FEWER, Feedback.NOT):
        _not_found()
    action = Feedback(action)
    paper = Paper.objects.filter(pk=_int(request.POST.get("paper")), batches__status=Batch.Status.PUBLISHED).first()
    if paper is None:
        _not_found()
    lifecycle.apply_feedback(subscriber, action, paper)
    messages.success(request, f"{action.label}: “{paper.title[:100]}”. Your next digest follows it.")
    back = request.POST.get("next", "")
    edition = _int(back) if back.isdigit() else None
    if edition:
        return redirect("edition_matches", token=token, edition_id=edition)
    return redirect(reverse("manage", args=[token]) + "#preview")


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


@require_POST
def change_email(request, token: str):
    subscriber = _subscriber(token, "manage")
    form = EmailChangeForm(request.POST)
    if form.is_valid():
        outcome = lifecycle.request_email_change(subscriber, form.cleaned_data["new_email"])
        if outcome == lifecycle.AddressChange.THROTTLED_SUBSCRIBER:
            messages.error(request, "You asked for too many address changes; please try again tomorrow.")
        else:
            # The same words whatever happened to the new address (sent, suppressed, throttled).
            messages.info(request, "If that address can receive email, a confirmation link is on its way to it. "
                                   "Your address changes when you open it.")
    else:
        messages.error(request, "Enter a valid email address.")
    return redirect("manage", token=token)


@never_cache
@require_http_methods(["GET", "POST"])
def email_change(request, token: str):
    found = lifecycle.read_email_change(token)
    if found is None:
        _not_found()
    subscriber, new_email = found
    if request.method == "GET":
        return render(request, "subscribers/email_change.html", {"new_email": new_email})
    if not lifecycle.apply_email_change(subscriber, new_email):
        return render(request, "subscribers/email_change.html", {"new_email": new_email, "taken": True}, status=409)
    return render(request, "subscribers/email_changed.html", {
        "new_email": new_email, "manage_token": make_token(subscriber, "manage"),
    })


@never_cache
def export(request, token: str):
    subscriber = _subscriber(token, "manage")
    response = JsonResponse(lifecycle.export_data(subscriber), json_dumps_params={"indent": 2})
    response["Content-Disposition"] = 'attachment; filename="paperpost-my-data.json"'
    return response


@never_cache
@require_http_methods(["GET", "POST"])
def delete(request, token: str):
    subscriber = _subscriber(token, "manage")
    if request.method == "GET":
        return render(request, "subscribers/delete.html", {"subscriber": subscriber})
    lifecycle.delete_subscriber(subscriber)
    return render(request, "subscribers/deleted.html")


@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token: str):
    subscriber = _subscriber(token, "unsubscribe")
    if request.method == "GET":
        return render(request, "subscribers/unsubscribe.html", {"subscriber": subscriber, "token": token})
    one_click = request.POST.get("List-Unsubscribe") == "One-Click"
    if not one_click:
        # Only the RFC 8058 one-click POST is exempt from CSRF; the page's form is not.
        rejection = CsrfViewMiddleware(lambda req: None).process_view(request, None, (), {})
        if rejection is not None:
            return rejection
    lifecycle.unsubscribe(subscriber)
    if one_click:
        # RFC 8058: a plain 200, no redirect, nothing that needs a browser.
        return HttpResponse("You are unsubscribed.\n", content_type="text/plain; charset=utf-8")
    return render(request, "subscribers/unsubscribed.html", {
        "subscriber": subscriber, "manage_token": make_token(subscriber, "manage"),
    })


@never_cache
@require_http_methods(["GET", "POST"])
def feedback(request, token: str, action: str, target: int):
    """"More like this", "fewer like this", "not interested" and "mute this topic" from a digest: the link
    shows what will change, a POST changes it, and the next digest follows it."""
    subscriber = _subscriber(token, "feedback")
    if action not in Feedback.values:
        _not_found()
    action = Feedback(action)
    if action == Feedback.MUTE:
        obj = Topic.objects.filter(pk=target).first()
    else:
        # Only papers of a published batch: ids are sequential, so a draft's papers (and
        # their titles) must not be reachable by counting.
        obj = Paper.objects.filter(pk=target, batches__status=Batch.Status.PUBLISHED).first()
    if obj is None:
        _not_found()
    context = {"action": action, "label": action.label, "obj": obj, "subscriber": subscriber,
               "manage_token": make_token(subscriber, "manage")}
    if request.method == "GET":
        return render(request, "subscribers/feedback.html", context)
    lifecycle.apply_feedback(subscriber, action, obj)
    if action != Feedback.MUTE:
        context["learned"] = learning.learned(subscriber)
    return render(request, "subscribers/feedback_done.html", context)


@never_cache
@require_GET
def feedback_choices(request, token: str, target: int):
    """The one link per paper of a digest's text part: the feedback choices for that paper,
    each a button that POSTs to its feedback link (more, fewer, or mute a topic of theirs
    that the paper matches)."""
    subscriber = _subscriber(token, "feedback")
    paper = Paper.objects.filter(pk=target, batches__status=Batch.Status.PUBLISHED).first() or _not_found()
    return render(request, "subscribers/feedback_choices.html", {
        "paper": paper, "token": token, "subscriber": subscriber,
        "topics": topic_tags([paper], subscriber.topics.all()).get(paper.pk, []),
        "manage_token": make_token(subscriber, "manage"),
    })


@never_cache
def edition_matches(request, token: str, edition_id: int):
    """Every paper of one edition that matches the subscriber, beyond the email's cap."""
    subscriber = _subscriber(token, "manage")
    edition = Edition.objects.filter(pk=edition_id).first() or _not_found()
    content = personal_content(subscriber, edition.start_date, edition.end_date)
    delivery = subscriber.deliveries.filter(edition=edition).first()
    in_email = {p["paper"] for p in (delivery.papers if delivery else [])}
    matches = [(content.papers[m.paper_id], m, m.paper_id in in_email) for m in content.match(subscriber.interests())]
    return render(request, "subscribers/edition_matches.html", {
        "edition": edition, "matches": matches, "subscriber": subscriber, "token": token,
    })


@never_cache
@require_http_methods(["GET", "HEAD"])
def click(request, token: str):
    """A paper's link from a digest or a private feed: count the click, then go to the paper.
    Only a GET counts (link checkers often send HEAD)."""
    target = clicks.resolve(token) or _not_found()
    if request.method == "GET":
        clicks.record(target)
    response = HttpResponseRedirect(target.url)
    response["Referrer-Policy"] = "no-referrer"  # the paper's site learns nothing of the link
    response["X-Robots-Tag"] = "noindex"
    return response
