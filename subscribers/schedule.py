"""When a delivery is due: each subscriber's own hour, in their own time zone.

A daily edition of day D is due for a subscriber at their hour on D, on their clock; a weekly
edition ending on D at their hour on the first of their chosen weekday on or after D. An
instant already past when the edition is built means "at once" (a batch published late goes
out to those past their hour right away). Daylight-saving changes come from the zone database
(zoneinfo): a local hour that does not exist that day (the spring gap) is read with the offset
before the change, one that happens twice (autumn) is its first occurrence.

Pure functions of plain values: no database, so the rules are tested on their own."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from django.conf import settings

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
WEEKDAY_CODES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
UTC = dt.timezone.utc


@lru_cache(maxsize=1)
def zone_names() -> tuple[str, ...]:
    """Every IANA zone name this machine's zone database knows ("Europe/Paris"), sorted;
    read once per process (listing them walks the database)."""
    return tuple(sorted(available_timezones()))


@lru_cache(maxsize=2048)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def is_zone(name: str) -> bool:
    if not name or name not in zone_names():
        return False
    try:
        zone(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def parse_weekday(value: str | int | None) -> int | None:
    """0 (Monday) to 6 from "mon", "Monday", "0".."6"; None for empty; ValueError otherwise."""
    if value is None or value == "":
        return None
    text = str(value).strip().lower()
    if text.isdigit() and 0 <= int(text) <= 6:
        return int(text)
    for number, (code, name) in enumerate(zip(WEEKDAY_CODES, WEEKDAYS)):
        if text in (code, name.lower()):
            return number
    raise ValueError(f"{value!r} is not a weekday (mon..sun)")


def parse_hour(value: str | int | None) -> int | None:
    """0..23 from "7", "07" or "7:00"; None for empty; ValueError otherwise."""
    if value is None or value == "":
        return None
    text = str(value).strip()
    if text.endswith(":00"):
        text = text[:-3]
    if not text.isdigit() or not 0 <= int(text) <= 23:
        raise ValueError(f"{value!r} is not an hour from 0 to 23")
    return int(text)


def effective(zone_name: str, hour: int | None) -> tuple[str, int]:
    """A subscriber's zone and hour, the operator's defaults filling what they left empty."""
    return zone_name or settings.DIGEST_TIME_ZONE, settings.DIGEST_SEND_HOUR if hour is None else hour


def due_at(day: dt.date, zone_name: str, hour: int, weekday: int | None = None) -> dt.datetime:
    """The instant (UTC) at which a digest of `day` is due for someone at `hour` o'clock in
    `zone_name`; with a weekday, on the first such day on or after `day`."""
    if weekday is not None:
        day = day + dt.timedelta(days=(weekday - day.weekday()) % 7)
    local = dt.datetime.combine(day, dt.time(hour), tzinfo=zone(zone_name))
    return local.astimezone(UTC)


class DueTimes:
    """due_at() for one edition, remembered per (zone, hour, weekday): an edition of a million
    rows computes a few hundred distinct instants."""

    def __init__(self, day: dt.date, weekly: bool):
        self.day, self.weekly = day, weekly
        self._memo: dict[tuple, dt.datetime] = {}

    def __call__(self, zone_name: str, hour: int | None, weekday: int | None) -> dt.datetime:
        key = (zone_name, hour, weekday if self.weekly else None)
        found = self._memo.get(key)
        if found is None:
            name, at = effective(zone_name, hour)
            if not is_zone(name):
                name = settings.DIGEST_TIME_ZONE  # a zone the database lost since: the default
            found = self._memo[key] = due_at(self.day, name, at, key[2])
        return found


def local_time(instant: dt.datetime, zone_name: str) -> dt.datetime:
    return instant.astimezone(zone(effective(zone_name, None)[0]))
