"""Each subscriber's own hour: the due instants (time zones, daylight saving, weekdays), how
subscribers choose them (the subscribe form's guess, the preference centre, add_subscriber),
and send_due queueing the rows whose hour has come (in-process here; with real workers and a
clock in test_local_hours_clock.py)."""

import datetime as dt

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from subscribers.delivery import build_edition, send_due
from subscribers.models import Delivery, Subscriber
from subscribers.schedule import DueTimes, due_at, parse_hour, parse_weekday
from subscribers.tokens import make_token

# Transactional: chunk tasks are queued when the edition's transaction commits.
pytestmark = pytest.mark.django_db(transaction=True)

UTC = dt.timezone.utc
DAY = dt.date(2026, 3, 19)  # a Thursday: the US is on summer time (since 8 March), Europe not yet


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_seven_in_tokyo_paris_and_los_angeles_on_19_march():
    assert due_at(DAY, "Asia/Tokyo", 7) == utc("2026-03-18T22:00")
    assert due_at(DAY, "Europe/Paris", 7) == utc("2026-03-19T06:00")
    assert due_at(DAY, "America/Los_Angeles", 7) == utc("2026-03-19T14:00")
    assert due_at(DAY, "Asia/Kolkata", 7) == utc("2026-03-19T01:30")  # a half-hour zone


def test_daylight_saving_comes_from_the_zone_database():
    # Paris moves its clocks on 29 March: 07:00 is 06:00 UTC before, 05:00 UTC after.
    assert due_at(dt.date(2026, 3, 28), "Europe/Paris", 7) == utc("2026-03-28T06:00")
    assert due_at(dt.date(2026, 3, 30), "Europe/Paris", 7) == utc("2026-03-30T05:00")
    # 02:00 does not exist in Paris on 29 March: read with the offset before the change.
    assert due_at(dt.date(2026, 3, 29), "Europe/Paris", 2) == utc("2026-03-29T01:00")
    # Los Angeles falls back on 1 November: 01:00 happens twice, the first one counts.
    assert due_at(dt.date(2026, 11, 1), "America/Los_Angeles", 1) == utc("2026-11-01T08:00")


def test_weekly_subscribers_get_the_edition_on_their_weekday_on_or_after_it():
    assert due_at(DAY, "Europe/Paris", 7, weekday=0) == utc("2026-03-23T06:00")  # the Monday after
    assert due_at(DAY, "Europe/Paris", 7, weekday=3) == utc("2026-03-19T06:00")  # that same Thursday


def test_empty_choices_take_the_operators_defaults(settings):
    settings.DIGEST_TIME_ZONE, settings.DIGEST_SEND_HOUR = "Europe/Paris", 8
    due = DueTimes(DAY, weekly=False)
    assert due("", None, None) == utc("2026-03-19T07:00")
    assert due("Asia/Tokyo", None, 4) == utc("2026-03-18T23:00")  # a daily edition ignores the weekday
    assert due("Not/AZone", 6, None) == utc("2026-03-19T05:00")  # a zone the database lost: the default


def test_hours_and_weekdays_are_read_strictly():
    assert parse_hour("07") == 7 and parse_hour("23:00") == 23 and parse_hour("") is None
    assert parse_weekday("Mon") == 0 and parse_weekday("sunday") == 6 and parse_weekday("4") == 4
    for bad in ("24", "-1", "7pm", "x"):
        with pytest.raises(ValueError):
            parse_hour(bad)
    with pytest.raises(ValueError):
        parse_weekday("someday")


def test_the_edition_gives_each_row_its_subscribers_hour(batch, make_subscriber, settings):
    make_subscriber("tokyo@example.org", topics=["llm"], timezone="Asia/Tokyo", send_hour=7)
    make_subscriber("paris@example.org", topics=["llm"], timezone="Europe/Paris")  # the default hour
    make_subscriber("anywhere@example.org", topics=["llm"])
    settings.DIGEST_SEND_HOUR, settings.DIGEST_TIME_ZONE = 7, "UTC"
    build_edition(batch, now=utc("2026-03-18T20:00"))
    due = dict(Delivery.objects.values_list("subscriber__email", "due_at"))
    assert due == {"tokyo@example.org": utc("2026-03-18T22:00"), "paris@example.org": utc("2026-03-19T06:00"),
                   "anywhere@example.org": utc("2026-03-19T07:00")}
    assert set(Delivery.objects.values_list("status", flat=True)) == {"pending"}  # nobody's hour yet


def test_send_due_sends_each_row_when_its_hour_comes_and_once(batch, make_subscriber, settings):
    make_subscriber("tokyo@example.org", topics=["llm"], timezone="Asia/Tokyo", send_hour=7)
    make_subscriber("paris@example.org", topics=["llm"], timezone="Europe/Paris", send_hour=7)
    edition, _ = build_edition(batch, now=utc("2026-03-18T20:00"))

    def sent():
        return set(Delivery.objects.filter(status="sent").values_list("subscriber__email", flat=True))

    assert send_due(utc("2026-03-18T21:59")) == {} and sent() == set()
    assert send_due(utc("2026-03-18T22:00")) == {edition.pk: 1} and sent() == {"tokyo@example.org"}
    assert send_due(utc("2026-03-18T22:00")) == {}  # that hour is queued already
    send_due(utc("2026-03-19T06:00"))
    assert sent() == {"tokyo@example.org", "paris@example.org"}
    edition.refresh_from_db()
    assert edition.status == "done"


def test_a_batch_published_late_goes_at_once_to_those_past_their_hour(batch, make_subscriber):
    make_subscriber("tokyo@example.org", topics=["llm"], timezone="Asia/Tokyo", send_hour=7)
    make_subscriber("la@example.org", topics=["llm"], timezone="America/Los_Angeles", send_hour=7)
    build_edition(batch, now=utc("2026-03-19T10:00"))  # Tokyo's 07:00 has passed, LA's has not
    assert dict(Delivery.objects.values_list("subscriber__email", "status")) == {
        "tokyo@example.org": "sent", "la@example.org": "pending"}


def test_send_digest_sends_who_is_due_and_says_who_waits(page_bytes, make_subscriber, capsys):
    from digest.ingest.pipeline import ingest_bytes
    from digest.models import Batch

    tomorrow = dt.date.today() + dt.timedelta(days=2)
    ingest_bytes(page_bytes, date=tomorrow)
    Batch.objects.get(date=tomorrow).publish()
    make_subscriber("now@example.org", topics=["llm"], timezone="Asia/Tokyo", send_hour=7)
    make_subscriber("later@example.org", topics=["llm"], timezone="America/Los_Angeles", send_hour=7)
    Subscriber.objects.filter(email="now@example.org").update(send_hour=None)
    Delivery.objects.all().delete()
    call_command("send_digest", "--wait", "--timeout", "30")
    out = capsys.readouterr().out
    assert "0 due now; 2 wait for their subscribers' hour (the next at" in out
    assert "sent 0, skipped 0, failed 0, unknown 0" in out  # --wait waits for what is due now only
    assert set(Delivery.objects.values_list("status", flat=True)) == {"pending"}


def test_send_due_takes_an_instant_and_refuses_a_bad_one(batch, make_subscriber, capsys):
    make_subscriber("paris@example.org", topics=["llm"], timezone="Europe/Paris", send_hour=7)
    build_edition(batch, now=utc("2026-03-18T20:00"))
    call_command("send_due", "--at", "2026-03-19T05:59+00:00")
    assert "0 chunk(s) queued for 0 edition(s); 1 deliveries wait for a later hour" in capsys.readouterr().out
    call_command("send_due", "--at", "2026-03-19T07:00+01:00")
    assert "1 chunk(s) queued for 1 edition(s); 0 deliveries wait" in capsys.readouterr().out
    assert Delivery.objects.get().status == "sent"
    with pytest.raises(CommandError, match="expected an ISO 8601 instant"):
        call_command("send_due", "--at", "tomorrow at seven")


def test_add_subscriber_takes_a_zone_an_hour_and_a_weekday(capsys):
    call_command("add_subscriber", "a@example.org", "--topics", "llm", "--timezone", "Europe/Paris", "--hour", "7",
                 "--frequency", "weekly", "--weekday", "mon")
    subscriber = Subscriber.objects.get()
    assert (subscriber.timezone, subscriber.send_hour, subscriber.send_weekday) == ("Europe/Paris", 7, 0)
    assert "weekly at 07:00 Europe/Paris" in capsys.readouterr().out
    with pytest.raises(CommandError, match="'Europe/Pariss' is not a time zone name"):
        call_command("add_subscriber", "b@example.org", "--topics", "llm", "--timezone", "Europe/Pariss")
    with pytest.raises(CommandError, match="'25' is not an hour from 0 to 23"):
        call_command("add_subscriber", "b@example.org", "--topics", "llm", "--hour", "25")


def test_the_subscribe_form_keeps_the_browsers_zone_and_ignores_a_bad_one():
    client = Client()
    client.post("/subscribe/", {"email": "guess@example.org", "topics": [], "keywords": "LoRA",
                                "frequency": "daily", "timezone": "America/Los_Angeles"})
    client.post("/subscribe/", {"email": "nojs@example.org", "keywords": "LoRA", "frequency": "daily"})
    client.post("/subscribe/", {"email": "forged@example.org", "keywords": "LoRA", "frequency": "daily",
                                "timezone": "../../etc/passwd"})
    zones = dict(Subscriber.objects.values_list("email", "timezone"))
    assert zones == {"guess@example.org": "America/Los_Angeles", "nojs@example.org": "", "forged@example.org": ""}


def test_the_home_page_carries_the_hidden_zone_field_and_its_script(batch):
    page = Client().get("/").content.decode()
    assert '<input type="hidden" name="timezone"' in page
    assert "/static/js/timezone.js" in page


def test_the_preference_centre_changes_zone_hour_and_weekday(make_subscriber):
    subscriber = make_subscriber("me@example.org", topics=["llm"])
    client = Client()
    url = f"/u/{make_token(subscriber, 'manage')}/"
    page = client.get(url).content.decode()
    assert "The site&#x27;s default (UTC)" in page and "Asia/Tokyo" in page
    response = client.post(url, {"topics": [subscriber.topics.first().pk], "frequency": "weekly", "max_papers": 10,
                                 "timezone": "Asia/Tokyo", "send_hour": "6", "send_weekday": "5"})
    assert response.status_code == 302
    subscriber.refresh_from_db()
    assert (subscriber.timezone, subscriber.send_hour, subscriber.send_weekday) == ("Asia/Tokyo", 6, 5)
    response = client.post(url, {"topics": [subscriber.topics.first().pk], "frequency": "daily", "max_papers": 10,
                                 "timezone": "Mars/Olympus_Mons", "send_hour": "30"})
    assert response.status_code == 400


def test_import_subscribers_reads_zone_hour_and_weekday_columns(tmp_path, capsys):
    csv = tmp_path / "list.csv"
    csv.write_text("email,topics,frequency,timezone,hour,weekday\n"
                   "a@example.org,llm,weekly,Asia/Tokyo,6,fri\n"
                   "b@example.org,llm,daily,,,\n"
                   "c@example.org,llm,daily,Atlantis/Capital,7,\n")
    with pytest.raises(CommandError):
        call_command("import_subscribers", str(csv))  # exits non-zero: one row had an error
    rows = {s.email: (s.timezone, s.send_hour, s.send_weekday) for s in Subscriber.objects.all()}
    assert rows == {"a@example.org": ("Asia/Tokyo", 6, 4), "b@example.org": ("", None, None)}
    assert "line 4: timezone: 'Atlantis/Capital' is not a time zone name" in capsys.readouterr().err
