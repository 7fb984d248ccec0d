"""Readers submit papers to the day's list.

A submission names an arXiv paper by id or link. A paper already stored is taken from the
database; an unknown one is fetched from the arXiv API (ARXIV_API_URL) through the ingest
guards (digest.ingest.fetch: public addresses only, timeout, size cap) and stored without
joining a batch. Then the rules: the paper was announced in the last SUBMISSION_MAX_AGE_DAYS,
it is not in the target batch yet (the submitter is told where it is), the person has not
reached SUBMISSIONS_PER_DAY. The submission waits in the curators' queue, unless the person is
trusted; approving it enters the paper into the current draft batch, "submitted by" its name."""

from __future__ import annotations

import datetime as dt
import logging
import re
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from digest.ingest.feedtools import ARXIV_ID
from digest.ingest.fetch import FetchError, fetch
from digest.ingest.formats import parse
from digest.ingest.records import ParseError, ParseResult
from digest.ingest.store import store
from digest.models import Batch, BatchEntry, Paper

from .members import member_for
from .models import Submission

log = logging.getLogger(__name__)

_ID_WITH_VERSION = re.compile(rf"({ARXIV_ID})(?:v\d+)?(?:\.pdf)?", re.I)
_ARXIV_HOSTS = {"arxiv.org", "www.arxiv.org", "export.arxiv.org", "huggingface.co", "alphaxiv.org",
                "www.alphaxiv.org"}


class SubmissionRefused(Exception):
    """The submission breaks a rule; the message says which, for the person."""


def parse_arxiv_input(text: str) -> str:
    """The arXiv id (without version) in an id or an arXiv / Hugging Face papers link."""
    value = (text or "").strip()
    if value.lower().startswith("arxiv:"):
        value = value[6:].strip()
    if "://" in value or value.lower().startswith(("arxiv.org/", "www.arxiv.org/")):
        parts = urlsplit(value if "://" in value else "https://" + value)
        if (parts.hostname or "").lower() not in _ARXIV_HOSTS:
            raise SubmissionRefused("Give an arXiv id (2403.12345) or an arxiv.org link.")
        value = re.sub(r"^/(?:abs|pdf|html|papers)/", "", parts.path).strip("/")
    found = _ID_WITH_VERSION.fullmatch(value)
    if not found:
        raise SubmissionRefused("That is not an arXiv id or link. Use a form like 2403.12345 or "
                                "https://arxiv.org/abs/2403.12345.")
    identifier = found.group(1)
    # New-style ids are digits; old-style archive names are lower case (hep-ex/0601001).
    return identifier if "/" not in identifier else identifier.lower()


def current_draft_batch(today: dt.date) -> Batch:
    """Today's batch while it is a draft; once published, the next day's draft."""
    for offset in range(60):
        batch, _ = Batch.objects.get_or_create(date=today + dt.timedelta(days=offset))
        if not batch.is_published:
            return batch
    raise SubmissionRefused("No list is open for submissions at the moment.")


def announced_on(paper: Paper) -> dt.date | None:
    """The latest day the paper was announced: its arXiv date or a daily list it was in."""
    days = [d for d in (paper.published, paper.batches.aggregate(d=Max("date"))["d"]) if d]
    return max(days) if days else None


def fetch_from_arxiv(arxiv_id: str, oldest: dt.date) -> Paper:
    """Fetch one paper from the arXiv API through the ingest guards and store it (in no batch)."""
    url = f"{settings.ARXIV_API_URL}?{urlencode({'id_list': arxiv_id, 'max_results': 1})}"
    try:
        fetched = fetch(url)
        result = parse(fetched.body, fmt="arxiv_api", today=timezone.localdate(), base_url=fetched.url,
                       status=fetched.status)
    except (FetchError, ParseError) as exc:
        log.warning("submission of %s: arXiv: %s", arxiv_id, exc)
        raise SubmissionRefused(f"arXiv could not be asked about {arxiv_id} just now; try again later.") from None
    record = next((r for r in result.records if r.arxiv_id.lower() == arxiv_id.lower()), None)
    if record is None:
        raise SubmissionRefused(f"arXiv has no paper {arxiv_id}.")
    if record.published and record.published < oldest:
        raise _too_old(arxiv_id, record.published)
    store(ParseResult(format=result.format, records=[record]), enter_batches=False)
    return Paper.objects.get(key=record.key)


def _too_old(arxiv_id: str, day: dt.date) -> SubmissionRefused:
    return SubmissionRefused(f"{arxiv_id} was announced on {day:%-d %b %Y}; only papers of the last "
                             f"{settings.SUBMISSION_MAX_AGE_DAYS} days can be submitted.")


def where_is(batch: Batch, paper: Paper) -> str | None:
    """Where the paper already is in the batch, in words, or None."""
    entry = batch.entries.filter(paper=paper).first()
    if entry is None:
        return None
    day = f"{batch.date:%a %-d %b}"
    if entry.hidden:
        return f"It is already in the list of {day}, left out by a curator."
    order = list(batch.visible_entries().values_list("paper_id", flat=True))
    return f"It is already in the list of {day}, at #{order.index(paper.pk) + 1}."


def submit(user, text: str, today: dt.date | None = None) -> Submission:
    member = member_for(user)
    if member.banned:
        raise SubmissionRefused("Your account can no longer submit papers.")
    if not member.display_name:
        raise SubmissionRefused("Choose a display name first: it is shown beside the papers you submit.")
    arxiv_id = parse_arxiv_input(text)
    today = today or timezone.localdate()
    start_of_day = timezone.make_aware(dt.datetime.combine(today, dt.time.min))
    if Submission.objects.filter(user=user, created_at__gte=start_of_day).count() >= settings.SUBMISSIONS_PER_DAY:
        raise SubmissionRefused(f"You have submitted {settings.SUBMISSIONS_PER_DAY} papers today, the most a day; "
                                "try again tomorrow.")
    oldest = today - dt.timedelta(days=settings.SUBMISSION_MAX_AGE_DAYS)
    paper = Paper.objects.filter(arxiv_id__iexact=arxiv_id).first() or fetch_from_arxiv(arxiv_id, oldest)
    announced = announced_on(paper)
    if announced and announced < oldest:
        raise _too_old(arxiv_id, announced)
    batch = current_draft_batch(today)
    there = where_is(batch, paper)
    if there:
        raise SubmissionRefused(there)
    waiting = Submission.objects.filter(batch=batch, paper=paper, status=Submission.Status.PENDING).first()
    if waiting:
        raise SubmissionRefused("Someone already submitted it for that list; it is waiting for a curator.")
    try:
        with transaction.atomic():
            submission = Submission.objects.create(user=user, paper=paper, batch=batch)
            if member.trusted:
                approve(submission, by=None)
    except IntegrityError:
        raise SubmissionRefused("Someone submitted it for that list a moment ago.") from None
    log.info("submission=%s user=%s paper=%s batch=%s trusted=%s", submission.pk, user.pk, paper.pk, batch.date,
             member.trusted)
    return submission


def approve(submission: Submission, by=None) -> bool:
    """Enter the paper into the submission's batch, "submitted by" its name. Idempotent."""
    with transaction.atomic():
        done = Submission.objects.filter(pk=submission.pk, status=Submission.Status.PENDING).update(
            status=Submission.Status.APPROVED, decided_at=timezone.now(), decided_by=by, reason="")
        if not done:
            return False
        name = member_for(submission.user).public_name
        entry = BatchEntry.objects.filter(batch=submission.batch, paper=submission.paper).first()
        if entry is None:
            last = submission.batch.entries.aggregate(m=Max("position"))["m"] or 0
            BatchEntry.objects.create(batch=submission.batch, paper=submission.paper, position=last + 1,
                                      announce_type="community", submitted_by=name)
        elif not entry.submitted_by:
            entry.submitted_by = name
            entry.save(update_fields=["submitted_by"])
    submission.refresh_from_db()
    log.info("submission=%s approved", submission.pk)
    return True


def reject(submission: Submission, reason: str, by=None) -> bool:
    reason = (reason or "").strip()
    if not reason:
        raise ValueError("Give the submitter a reason.")
    done = Submission.objects.filter(pk=submission.pk, status=Submission.Status.PENDING).update(
        status=Submission.Status.REJECTED, decided_at=timezone.now(), decided_by=by, reason=reason[:2000])
    submission.refresh_from_db()
    if done:
        log.info("submission=%s rejected", submission.pk)
    return bool(done)
