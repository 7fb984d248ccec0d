"""System checks for what production must configure (shown by `manage.py check --deploy`)."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def webhook_secret(app_configs, **kwargs):
    if settings.ANYMAIL.get("WEBHOOK_SECRET"):
        return []
    return [Warning(
        "ANYMAIL_WEBHOOK_SECRET is not set, so the ESP bounce and complaint webhooks are switched off "
        "(not routed): hard bounces and complaints reported by your ESP are not recorded.",
        hint="Set ANYMAIL_WEBHOOK_SECRET=user:password and give the same credentials to your ESP's webhook; "
             "with plain SMTP, record bounces with `manage.py suppress`.",
        id="paperpost.W001",
    )]
