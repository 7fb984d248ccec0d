from __future__ import annotations

import logging

from django.http import Http404, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from .forms import SubscribeForm
from .models import Subscriber, normalize_email
from .tokens import make_token, subscriber_for

log = logging.getLogger(__name__)


def _not_found():
    # One answer for unknown, invalid and foreign tokens alike.
    raise Http404("This link is not valid.")


@require_http_methods(["GET", "POST"])
def subscribe(request):
    from digest.views import home

    if request.method == "GET":
        return home(request)
    form = SubscribeForm(request.POST)
    if not form.is_valid():
        from digest.models import Batch
        from digest.views import _batch_context

        context = _batch_context(Batch.latest_published())
        context["form"] = form
        return render(request, "digest/home.html", context, status=400)
    data = form.cleaned_data
    if data.get("website"):
        log.info("subscribe: honeypot filled, ignored")
        return render(request, "subscribers/check_inbox.html")
    email = normalize_email(data["email"])
    subscriber = Subscriber.objects.filter(email__iexact=email).first()
    if subscriber is None:
        subscriber = Subscriber.objects.create(
            email=email,
            status=Subscriber.Status.PENDING,
            keywords=data.get("keywords", ""),
            frequency=data["frequency"],
            consent_at=timezone.now(),
            consent_ip=request.META.get("REMOTE_ADDR"),
            consent_source="web form v1",
        )
        subscriber.topics.set(data.get("topics") or [])
    # The same page whether the address was new, pending or active.
    return render(request, "subscribers/check_inbox.html")


def manage(request, token: str):
    subscriber = subscriber_for(token, "manage")
    if subscriber is None:
        _not_found()
    return render(
        request,
        "subscribers/manage.html",
        {
            "subscriber": subscriber,
            "unsubscribe_token": make_token(subscriber, "unsubscribe"),
        },
    )


def unsubscribe_subscriber(subscriber: Subscriber) -> bool:
    """Idempotent; returns True if this call changed the status."""
    changed = Subscriber.objects.filter(pk=subscriber.pk).exclude(
        status=Subscriber.Status.UNSUBSCRIBED
    ).update(status=Subscriber.Status.UNSUBSCRIBED, unsubscribed_at=timezone.now())
    if changed:
        log.info("subscriber=%s unsubscribed", subscriber.pk)
    return bool(changed)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token: str):
    subscriber = subscriber_for(token, "unsubscribe")
    if subscriber is None:
        _not_found()
    if request.method == "GET":
        # Mail scanners and link prefetchers follow links: GET only asks.
        return render(request, "subscribers/unsubscribe.html", {"subscriber": subscriber, "token": token})
    one_click = request.POST.get("List-Unsubscribe") == "One-Click"
    if not one_click:
        # Only the RFC 8058 one-click POST is exempt from CSRF; the page's form is not.
        rejection = CsrfViewMiddleware(lambda req: None).process_view(request, None, (), {})
        if rejection is not None:
            return rejection
    unsubscribe_subscriber(subscriber)
    if one_click:
        return HttpResponse("You are unsubscribed.\n", content_type="text/plain; charset=utf-8")
    return render(request, "subscribers/unsubscribed.html", {"subscriber": subscriber})
