"""Recording what happened to claimed rows. Every write is conditional on the claim still
holding the row (finish()), so a row the sweep took back is never written by its old owner.
The two statements every message costs (its current status, and "sent") are plain SQL:
through the ORM, building the query cost more than running it (benchmarks/README.md).
What an email held (Delivery.papers) is recorded() with each paper's score and reasons."""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import random
import uuid
from dataclasses import dataclass, field
from enum import StrEnum

from django.conf import settings
from django.db import connection
from django.db.models import F
from django.utils import timezone

from digest.matching import Match, Reason

from .lifecycle import suppress
from .models import Delivery, Edition, Subscriber, Suppression
from .transport import FAILED, UNKNOWN, Verdict

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    """What happened to one claimed row (the names of ChunkResult's counters)."""

    SENT = "sent"
    SKIPPED = "skipped"
    FAILED = "failed"
    RETRY = "retry"  # back to pending, tried again after a backoff
    UNKNOWN = "unknown"  # the data went out, the reply never came: never resent automatically
    PAUSED = "paused"  # the edition was paused: this row and the rest of the chunk go back unsent


@dataclass
class ChunkResult:
    claimed: int = 0
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    retry: int = 0
    unknown: int = 0
    released: int = 0  # handed back unsent because the edition was paused
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    def count(self, outcome: Outcome, error: str = "") -> None:
        setattr(self, outcome.value, getattr(self, outcome.value) + 1)
        if error and outcome in (Outcome.FAILED, Outcome.RETRY, Outcome.UNKNOWN):
            self.errors.append(error)

    def line(self) -> str:
        rate = self.sent / self.seconds if self.seconds else 0.0
        return (
            f"claimed={self.claimed} sent={self.sent} skipped={self.skipped} failed={self.failed} "
            f"retry={self.retry} unknown={self.unknown} released={self.released} "
            f"seconds={self.seconds:.2f} rate={rate:.1f}/s"
        )

    def as_dict(self) -> dict:
        return {"claimed": self.claimed, "sent": self.sent, "skipped": self.skipped,
                "failed": self.failed, "retry": self.retry, "unknown": self.unknown}


def finish(pk: int, owner: uuid.UUID, **fields) -> bool:
    """Record an outcome, only if the claim `owner` still holds the row."""
    fields.setdefault("finished_at", timezone.now())
    return bool(
        Delivery.objects.filter(pk=pk, claim=owner, status=Delivery.Status.SENDING).update(**fields)
    )


def backoff(attempt: int) -> float:
    """Exponential backoff with jitter, capped (no long ETA tasks on Redis)."""
    base = settings.DELIVERY_RETRY_BASE_SECONDS
    ceiling = min(settings.DELIVERY_RETRY_MAX_SECONDS, base * 2 ** max(0, attempt - 1))
    return random.uniform(ceiling / 2, ceiling)


def failed_attempt(row: Delivery, claim: uuid.UUID, papers: list, found: Verdict) -> Outcome:
    """Record a send that did not succeed, as its verdict says (subscribers.transport)."""
    row.last_error = found.error
    if found.kind == UNKNOWN:
        # The server (or the ESP) may have accepted it. Policy: never resend automatically (a
        # duplicate is worse than a gap); the admin lists the row, and its "resend" uses the
        # same Message-ID.
        finish(row.pk, claim, status=Delivery.Status.UNKNOWN, last_error=row.last_error, papers=papers)
        log.warning("delivery=%s unknown: %s", row.pk, row.last_error)
        return Outcome.UNKNOWN
    if found.kind == FAILED:
        finish(row.pk, claim, status=Delivery.Status.FAILED, last_error=row.last_error, papers=papers)
        if found.suppress:
            suppress(row.subscriber.email, Suppression.Reason.BOUNCED, row.last_error)
        log.warning("delivery=%s failed permanently: %s", row.pk, row.last_error)
        return Outcome.FAILED
    if row.attempts >= settings.DELIVERY_MAX_ATTEMPTS:
        finish(row.pk, claim, status=Delivery.Status.FAILED,
               last_error=f"gave up after {row.attempts} attempts: {row.last_error}", papers=papers)
        log.warning("delivery=%s failed after %s attempts: %s", row.pk, row.attempts, row.last_error)
        return Outcome.FAILED
    # 4xx, timeouts, dropped connections, an ESP's 429 or 5xx: back to pending, retried after
    # a backoff, or after the wait the server asked for if that is longer.
    delay = max(backoff(row.attempts), found.retry_after or 0.0)
    finish(row.pk, claim, status=Delivery.Status.PENDING, last_error=row.last_error, claim=None,
           next_attempt_at=timezone.now() + dt.timedelta(seconds=delay), finished_at=None)
    log.info("delivery=%s retry %s in %.1fs: %s", row.pk, row.attempts, delay, row.last_error)
    return Outcome.RETRY


def give_back(claim: uuid.UUID, rows: list[Delivery], error: str, result: ChunkResult,
              best_effort: bool = False, wait: float | None = None, count_attempt: bool = True) -> None:
    """Rows of a chunk that stopped before their turn: back to pending after a backoff (or
    `wait` seconds), with the error, or failed once they have had DELIVERY_MAX_ATTEMPTS
    attempts. Without `count_attempt` (a rate limit: they were never tried) the claim's
    attempt is taken back."""
    try:
        for row in rows:
            if count_attempt and row.attempts >= settings.DELIVERY_MAX_ATTEMPTS:
                if finish(row.pk, claim, status=Delivery.Status.FAILED,
                          last_error=f"gave up after {row.attempts} attempts: {error}"):
                    result.failed += 1
                continue
            delay = max(backoff(row.attempts), wait or 0.0)
            fields = {"attempts": F("attempts") - 1} if not count_attempt else {}
            if finish(row.pk, claim, status=Delivery.Status.PENDING, claim=None, last_error=error,
                      next_attempt_at=timezone.now() + dt.timedelta(seconds=delay), finished_at=None, **fields):
                result.retry += 1
        result.errors.append(error)
    except Exception:
        if not best_effort:
            raise
        # The database itself is what failed: the sweep recovers these rows later.
        log.exception("could not hand back the rows of claim %s", claim)


def release(claim: uuid.UUID, pks: list[int]) -> int:
    """Hand claimed rows back unsent (the edition was paused); their attempt did not count."""
    return Delivery.objects.filter(pk__in=pks, claim=claim, status=Delivery.Status.SENDING).update(
        status=Delivery.Status.PENDING, claim=None, attempts=F("attempts") - 1
    )


def current_status(delivery_id: int) -> tuple:
    """(subscriber status, paused until, edition status), read right before a send."""
    d, s, e = Delivery._meta.db_table, Subscriber._meta.db_table, Edition._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT s.status, s.paused_until, e.status FROM {d} d "
            f"JOIN {s} s ON s.id = d.subscriber_id JOIN {e} e ON e.id = d.edition_id WHERE d.id = %s",
            [delivery_id],
        )
        row = cursor.fetchone()
    return row or ("deleted", None, Edition.Status.SENDING)


def mark_sent(delivery_id: int, claim: uuid.UUID, message_id: str, matches: list[Match], esp_message_id: str = "",
              quiet: str = "") -> bool:
    """The row is sent, with the papers it held (a quiet-day note records why it held none
    in skip_reason)."""
    fields = Delivery._meta

    def prep(name, value):
        return fields.get_field(name).get_db_prep_save(value, connection)

    now = prep("sent_at", timezone.now())
    # The JSON text is made here (recorded_json), and handed to the database's own JSON
    # adapter as it is: the same value the field would write for recorded(matches).
    papers = connection.ops.adapt_json_value(recorded_json(matches), _Encoded)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {fields.db_table} SET status = %s, sent_at = %s, finished_at = %s, message_id = %s, "
            f"esp_message_id = %s, papers = %s, skip_reason = %s, last_error = '' "
            f"WHERE id = %s AND claim = %s AND status = %s",
            [Delivery.Status.SENT, now, now, message_id, esp_message_id,
             papers, quiet, delivery_id, prep("claim", claim), Delivery.Status.SENDING],
        )
        return cursor.rowcount == 1


# --- What an email held -------------------------------------------------------------------------


def recorded(matches: list[Match]) -> list[dict]:
    """Delivery.papers of an email that held `matches`: each paper, its score and its reasons."""
    return [{"paper": m.paper_id, "score": m.score, "reasons": [r.as_dict() for r in m.reasons]} for m in matches]


# Each reason's JSON text, made once per process: reasons are shared by every subscriber with
# the same topic or keyword in the same paper (digest.matching.explain remembers them), and
# json.dumps() of an email's whole list was a third of recording it as sent. Bounded, so that
# a worker's memory stays flat.
REASONS_KEPT = 50_000
_reasons: dict[Reason, str] = {}


def _reason_json(reason: Reason) -> str:
    found = _reasons.get(reason)
    if found is None:
        if len(_reasons) >= REASONS_KEPT:
            _reasons.clear()
        found = _reasons[reason] = json.dumps(reason.as_dict())
    return found


def _number(value) -> str:
    """json.dumps(value) for a score or an id, without the call for the usual int and float."""
    if type(value) is float and math.isfinite(value):
        return float.__repr__(value)
    if type(value) is int:
        return int.__repr__(value)
    return json.dumps(value)


def recorded_json(matches: list[Match]) -> str:
    """json.dumps(recorded(matches)), the same text, from each reason's text made once."""
    return "[" + ", ".join([
        '{"paper": %s, "score": %s, "reasons": [%s]}'
        % (_number(m.paper_id), _number(m.score), ", ".join([_reason_json(r) for r in m.reasons]))
        for m in matches
    ]) + "]"


class _Encoded(json.JSONEncoder):
    """The encoder for JSON text made already (recorded_json): hands it over as it is."""

    def encode(self, o):
        return o
