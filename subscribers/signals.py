"""Bounces and complaints reported by an ESP through django-anymail's tracking webhooks.
A hard bounce, a rejection as invalid or a spam complaint stops all mail to the address;
soft (temporary) bounces do not."""

from __future__ import annotations

import logging

from anymail.signals import tracking
from django.dispatch import receiver

from .lifecycle import suppress, unsubscribe
from .models import Subscriber, Suppression

log = logging.getLogger(__name__)


def _is_soft(event) -> bool:
    raw = event.esp_event if isinstance(event.esp_event, dict) else {}
    kind = str(raw.get("Type") or raw.get("severity") or raw.get("bounceType") or "").lower()
    if not kind and isinstance(raw.get("bounce"), dict):  # Amazon SES
        kind = str(raw["bounce"].get("bounceType", "")).lower()
    return kind in {"softbounce", "temporary", "transient", "dnserror"}


@receiver(tracking, dispatch_uid="paperpost-bounces")
def on_tracking_event(sender, event, esp_name, **kwargs):
    recipient = (event.recipient or "").strip()
    if not recipient:
        return
    detail = f"{esp_name}: {event.event_type} {event.description or ''}".strip()
    if event.event_type == "complained":
        suppress(recipient, Suppression.Reason.COMPLAINED, detail)
    elif event.event_type in ("bounced", "rejected") and not _is_soft(event):
        suppress(recipient, Suppression.Reason.BOUNCED, detail)
    elif event.event_type == "unsubscribed":
        subscriber = Subscriber.objects.filter(email__iexact=recipient).first()
        if subscriber:
            unsubscribe(subscriber)
    else:
        return
    log.info("tracking: %s for %s handled", event.event_type, esp_name)
