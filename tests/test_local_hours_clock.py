"""Local send hours with the real parts (Redis, Celery worker processes, the aiosmtpd server)
and a clock: the edition of 19 March 2026 is built the evening before (UTC), and
`manage.py send_due --at` walks through the hours as beat would. The workers never look at
the clock for due rows: each chunk task carries the instant it was queued for."""

import datetime as dt
import time

import pytest
from django.core.management import call_command

from subscribers.delivery import build_edition
from subscribers.models import Delivery
from tests.delivery_checks import FAST, assert_exactly_once, make_readers, run_until_done
from tests.services import wait_for

pytestmark = [pytest.mark.faults, pytest.mark.integration, pytest.mark.django_db(transaction=True)]

BUILT = dt.datetime(2026, 3, 18, 20, 0, tzinfo=dt.timezone.utc)
TOKYO_7 = "2026-03-18T22:00:00+00:00"  # 07:00 in Tokyo (UTC+9)
PARIS_7 = "2026-03-19T06:00:00+00:00"  # 07:00 in Paris (UTC+1 until 29 March)
LA_7 = "2026-03-19T14:00:00+00:00"  # 07:00 in Los Angeles (UTC-7 since 8 March)


def recipients(smtp_server) -> set[str]:
    return set(smtp_server.handler.copies())


def settle(smtp_server, expected: set[str], timeout: float = 60) -> None:
    """Wait until the server has received mail for exactly `expected`, then make sure nothing
    else arrives for a moment (a row sent before its hour would show up here)."""
    wait_for(lambda: recipients(smtp_server) >= expected, timeout, f"mail for {sorted(expected)}")
    time.sleep(1.5)
    assert recipients(smtp_server) == expected


def test_tokyo_paris_and_los_angeles_get_the_19_march_digest_at_their_own_seven(
        batch, make_subscriber, workers, smtp_server, fast):
    people = {"tokyo@example.org": "Asia/Tokyo", "paris@example.org": "Europe/Paris",
              "la@example.org": "America/Los_Angeles"}
    for email, zone in people.items():
        make_subscriber(email, topics=["llm"], timezone=zone, send_hour=7)
    workers.start(concurrency=2, extra_env=FAST)
    edition, _ = build_edition(batch, now=BUILT)
    settle(smtp_server, set())  # nobody's hour yet
    steps = [
        ("2026-03-18T21:59:00+00:00", set()),
        (TOKYO_7, {"tokyo@example.org"}),
        ("2026-03-19T05:59:00+00:00", {"tokyo@example.org"}),
        (PARIS_7, {"tokyo@example.org", "paris@example.org"}),
        ("2026-03-19T13:59:00+00:00", {"tokyo@example.org", "paris@example.org"}),
        (LA_7, set(people)),
        ("2026-03-19T15:00:00+00:00", set(people)),  # a later hour sends nothing again
    ]
    for at, expected in steps:
        call_command("send_due", "--at", at)
        settle(smtp_server, expected)
    assert all(n == 1 for n in smtp_server.handler.copies().values())
    due = {row.subscriber.email: row.due_at.astimezone(dt.timezone.utc).isoformat()
           for row in Delivery.objects.select_related("subscriber")}
    assert due == {"tokyo@example.org": TOKYO_7, "paris@example.org": PARIS_7, "la@example.org": LA_7}
    assert_exactly_once(smtp_server)
    edition.refresh_from_db()
    assert edition.status == "done"


def test_a_worker_killed_across_an_hour_boundary_loses_and_doubles_nobody(batch, workers, smtp_server, fast):
    make_readers(150, prefix="tokyo", timezone="Asia/Tokyo", send_hour=7)
    make_readers(150, prefix="paris", timezone="Europe/Paris", send_hour=7)
    make_readers(150, prefix="la", timezone="America/Los_Angeles", send_hour=7)
    trap = "tokyo0120@example.org"  # held in DATA, so the kill lands mid-send
    smtp_server.handler.behaviour.hold_data = lambda rcpt: 1.5 if rcpt == trap else 0
    smtp_server.handler.behaviour.delay_data = 0.01
    worker = workers.start(concurrency=2, extra_env=FAST, name="before")
    edition, _ = build_edition(batch, now=BUILT)

    call_command("send_due", "--at", TOKYO_7)
    wait_for(lambda: trap in smtp_server.handler.in_data, 120, "the trap message in DATA")
    worker.kill9()  # mid-send, Tokyo's hour not finished ...
    assert Delivery.objects.get(subscriber__email=trap).status == "sending"
    call_command("send_due", "--at", PARIS_7)  # ... when Paris's hour comes
    workers.start(concurrency=2, extra_env=FAST, name="after")
    counts = run_until_done(edition, 240, due_by=dt.datetime.fromisoformat(PARIS_7))
    assert counts["failed"] == 0
    assert not any(a.startswith("la") for a in recipients(smtp_server))  # nobody early

    call_command("send_due", "--at", LA_7)
    counts = run_until_done(edition, 240)
    unknown = assert_exactly_once(smtp_server, allow_unknown=2)  # the two messages in flight at the kill
    assert trap in unknown
    assert counts["sent"] + counts["unknown"] == 450 and counts["failed"] == 0
    # Nobody lost without a trace: every address got its one copy, or is listed as unknown
    # for the operator (whose "resend" uses the same Message-ID).
    got = recipients(smtp_server)
    assert all(email in got or email in unknown
               for email in Delivery.objects.values_list("subscriber__email", flat=True))
    assert {a for a in got if a.startswith("la")} == {f"la{i:04d}@example.org" for i in range(150)}
