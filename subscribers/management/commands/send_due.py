from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand
from django.utils import timezone

from paperpost.commands import fail
from subscribers.delivery import send_due
from subscribers.models import Edition


def instant(value: str) -> dt.datetime:
    """An ISO 8601 instant; one without an offset is read in the site's TIME_ZONE."""
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    except ValueError:
        raise fail(f"--at {value!r}: expected an ISO 8601 instant, e.g. 2026-03-19T07:00+01:00") from None
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed


class Command(BaseCommand):
    help = (
        "Queue the deliveries that are due: every row of an edition being sent whose "
        "subscriber's hour has come by now (or by --at). Beat runs this every "
        "DELIVERY_DUE_SECONDS; rows already queued are not queued twice."
    )

    def add_arguments(self, parser):
        parser.add_argument("--at", metavar="ISO-8601",
                            help="the instant to queue for, e.g. 2026-03-19T07:00+01:00 (default: now)")

    def handle(self, *args, at, **options):
        when = instant(at) if at else timezone.now()
        queued = send_due(when)
        for edition_id, chunks in queued.items():
            edition = Edition.objects.get(pk=edition_id)
            self.stdout.write(f"edition {edition}: {chunks} chunk(s) queued")
        waiting = sum(
            e.deliveries.filter(status="pending", due_at__gt=when).count()
            for e in Edition.objects.filter(status=Edition.Status.SENDING)
        )
        self.stdout.write(f"due by {when:%Y-%m-%d %H:%M %Z}: {sum(queued.values())} chunk(s) queued for "
                          f"{len(queued)} edition(s); {waiting} deliveries wait for a later hour")
