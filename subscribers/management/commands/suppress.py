from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand
from django.core.validators import validate_email

from paperpost.commands import fail
from subscribers.lifecycle import suppress
from subscribers.models import Suppression


# What an operator records by hand; "deleted" is the subscriber's own doing.
OPERATOR_REASONS = [Suppression.Reason.BOUNCED.value, Suppression.Reason.COMPLAINED.value, Suppression.Reason.MANUAL.value]


class Command(BaseCommand):
    help = (
        "Stop all mail to addresses that hard-bounced or complained (for SMTP setups without "
        "ESP webhooks). They stay suppressed until they subscribe and confirm anew."
    )

    def add_arguments(self, parser):
        parser.add_argument("emails", nargs="+", metavar="EMAIL")
        parser.add_argument("--reason", choices=OPERATOR_REASONS, default=Suppression.Reason.BOUNCED.value)
        parser.add_argument("--detail", default="", help="a note, e.g. the bounce message")

    def handle(self, *args, emails, reason, detail, **options):
        bad = []
        for email in emails:
            try:
                validate_email(email)
            except ValidationError:
                bad.append(email)
        if bad:
            raise fail(f"not an email address: {', '.join(bad)}")
        known = 0
        for email in emails:
            subscriber = suppress(email, Suppression.Reason(reason), detail or "manage.py suppress")
            known += subscriber is not None
        self.stdout.write(f"suppressed {len(emails)} address(es) as {reason} ({known} were subscribers)")
