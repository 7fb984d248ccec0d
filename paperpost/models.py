"""Core tables that every app may use."""

from __future__ import annotations

from django.db import models


class RateCounter(models.Model):
    """One rate-limit window: how many events a key counted and when its window ends.
    Kept in the database so the count is atomic on every deployment (see paperpost.ratelimit)."""

    key = models.CharField(max_length=80, primary_key=True)
    count = models.PositiveIntegerField(default=0)
    # Seconds since the epoch: a plain number compares the same way on SQLite and PostgreSQL.
    expires = models.FloatField(db_index=True)

    def __str__(self) -> str:
        return f"{self.key}: {self.count}"
