"""Events an ESP reports through django-anymail's tracking webhooks (mounted only with
ANYMAIL_WEBHOOK_SECRET). A hard bounce, a rejection as invalid or a spam complaint stops all
mail to the address; soft (temporary) bounces do not. Each event about a digest also lands on
its delivery row (found by the delivery id the message carried as metadata, or by the ESP's
message id): delivered, bounced, complained, deferred, ..."""

from __future__ import annotations

import logging

from anymail.signals import tracking
from django.dispatch import receiver

from django.utils import timezone

from .lifecycle import suppress, unsubscribe
from .models import Delivery, Subscriber, Suppression, normalize_email

log = logging.getLogger(__name__)


def _is_soft(event) -> bool:
    raw = event.esp_event if isinstance(event.esp_event, dict) else {}
    kind = str(raw.get("Type") or raw.get("severity") or raw.get("bounceType") or "").lower()
    if not kind and isinstance(raw.get("bounce"), dict):  # Amazon SES
        kind = str(raw["bounce"].get("bounceType", "")).lower()
    return kind in {"softbounce", "temporary", "transient", "dnserror"}


# Events that say the most; a later, milder one (a "delivered" after a complaint) does not
# replace them on the row.
FINAL_EVENTS = {"bounced", "complained", "rejected", "failed", "unsubscribed"}


def delivery_for(event) -> Delivery | None:
    """The delivery row an event is about, if the message was a digest sent to that recipient."""
    metadata = event.metadata if isinstance(event.metadata, dict) else {}
    pk = str(metadata.get("delivery", ""))
    rows = Delivery.objects.select_related("subscriber")
    if pk.isdigit():
        row = rows.filter(pk=int(pk)).first()
    elif event.message_id:
        row = rows.filter(esp_message_id=str(event.message_id)[:200]).first()
    else:
        row = None
    if row is None or normalize_email(row.subscriber.email) != normalize_email(event.recipient or ""):
        return None
    return row


def record_on_delivery(event) -> bool:
    row = delivery_for(event)
    if row is None:
        return False
    if row.esp_event in FINAL_EVENTS and event.event_type not in FINAL_EVENTS:
        return False
    Delivery.objects.filter(pk=row.pk).update(esp_event=str(event.event_type)[:20],
                                              esp_event_at=event.timestamp or timezone.now())
    return True


@receiver(tracking, dispatch_uid="paperpost-bounces")
def on_tracking_event(sender, event, esp_name, **kwargs):
    recipient = (event.recipient or "").strip()
    if not recipient:
        return
    record_on_delivery(event)
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
