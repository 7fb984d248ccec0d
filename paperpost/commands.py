"""Small helpers shared by the management commands."""

from __future__ import annotations

import datetime as dt
from argparse import ArgumentTypeError

from django.core.management.base import CommandError


def iso_date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ArgumentTypeError(f"{value!r} is not a date in YYYY-MM-DD form") from None


def fail(message: str) -> CommandError:
    """A one-line reason and a non-zero exit status."""
    return CommandError(message.splitlines()[0] if message else "failed")
